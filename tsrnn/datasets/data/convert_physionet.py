"""Write the PhysioNet records that tsrnn ships as compact .npz files (run from the checkout).

    pip install wfdb
    python tsrnn/datasets/data/convert_physionet.py ../shared/data/physionet

Reads the WFDB records with the ``wfdb`` package (not a dependency of tsrnn: the loaders read
only the .npz files) and stores the raw ADC values with the gains and baselines of their
headers, so that the loaders rebuild the physical values exactly as ``wfdb.rdrecord`` gives
them. Checks that round trip before writing.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
INVALID = -2048  # WFDB format 212 marks a missing sample with the lowest 12-bit value


def _save(name, record, samples):
    adc = record.d_signal[:samples]
    physical = (adc - np.asarray(record.baseline)) / np.asarray(record.adc_gain)
    physical[adc == INVALID] = np.nan
    import wfdb

    check = wfdb.rdrecord(record.record_name_path, sampto=samples,
                          channels=record.channels_read).p_signal
    if not np.allclose(physical, check, rtol=0, atol=1e-9, equal_nan=True):
        raise SystemExit(f"{name}: the stored values do not give wfdb's physical values")
    np.savez_compressed(HERE / name, adc=adc.astype(np.int16),
                        gain=np.asarray(record.adc_gain, np.float64),
                        baseline=np.asarray(record.baseline, np.float64),
                        names=np.asarray(record.sig_name), units=np.asarray(record.units),
                        sampling_rate=np.float64(record.fs))
    print(f"{name}: {adc.shape} samples at {record.fs} Hz, channels {record.sig_name}, "
          f"{int((adc == INVALID).sum())} missing")


def main(folder):
    import wfdb

    for record_name, samples, channels, out in (("03700181", 75000, [0, 1, 2], "icu_03700181.npz"),
                                                ("100", 108000, [0], "mitbih_record100_mlii.npz")):
        path = str(Path(folder) / record_name)
        record = wfdb.rdrecord(path, sampto=samples, channels=channels, physical=False)
        record.record_name_path, record.channels_read = path, channels
        _save(out, record, samples)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/physionet")
