"""The ``tsrnn`` command: compare forecasters, forecast a CSV column, backtest a model.

``tsrnn compare``
    Fit every model once on the first part of a series (default: the embedded ECG), forecast
    from rolling origins over the rest with the history before each origin as context, and
    print MASE, sMAPE, MAE, fit time and predict time per model and horizon.
``tsrnn forecast FILE.csv --column NAME [NAME ...] --horizon N``
    Fit one model on a CSV column (or several, jointly) and write its forecast as CSV;
    ``--model-file`` forecasts with a model saved by ``--save`` without fitting.
``tsrnn backtest FILE.csv --column NAME --horizon N --model M``
    Rolling-origin scores of one model on a CSV column, per origin and on average.

Run ``tsrnn COMMAND --help`` for the options. This module parses arguments, runs a command and
reports errors; the comparison itself is :mod:`tsrnn.comparison` (:func:`run_comparison` is
re-exported here) and CSV files are read by :func:`tsrnn.datasets.read_csv_series`.
:func:`main` returns an exit code; errors print one line on stderr (``--debug`` shows the
traceback instead).
"""
from __future__ import annotations

import argparse
import os
import sys

from tsrnn._defaults import (DEFAULT_CONTEXT, DEFAULT_ORIGINS, DEFAULT_TRAIN_FRACTION,
                             MODEL_NAMES)

__all__ = ["main", "build_parser", "CommandError"]


class CommandError(Exception):
    """A user error the command reports in one line (conflicting or missing options)."""


# ---------------------------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------------------------
def _number(convert, accept, expected):
    """An argparse type: ``convert`` the text, check it with ``accept``, else say ``expected``."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_fraction = _number(float, lambda v: 0.0 < v < 1.0, "a number in (0, 1)")


def _param_pair(text):
    """An argparse type for ``--param NAME=VALUE``: returns ``(NAME, value)``.

    ``NAME`` may carry a model prefix (``gru.hidden_size``); ``VALUE`` is a Python literal
    where it reads as one (``32``, ``1e-3``, ``True``, ``None``, ``(20, 40)``, ``'lstm'``),
    else the text itself (``float64``, ``auto``).
    """
    name, equals, value = text.partition("=")
    parts = name.strip().split(".")
    if not equals or len(parts) > 2 or not all(part.isidentifier() for part in parts):
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE (or MODEL.NAME=VALUE), e.g. hidden_size=32, got {text!r}")
    import ast  # here: only a command with --param pays for it

    try:
        parsed = ast.literal_eval(value.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        parsed = value  # not a literal: the text itself, e.g. float64
    return name.strip(), parsed


def _common_options():
    """Options every command takes (their defaults are suppressed so the top level's stay)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=0,
                        help="random_state of the RNNs (default: %(default)s)")
    common.add_argument("-q", "--quiet", "--no-progress", action="store_true",
                        default=argparse.SUPPRESS,
                        help="no progress bars or stage messages on stderr")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    return common


def _model_options(parser):
    group = parser.add_argument_group("model settings")
    group.add_argument("--season-length", type=_positive_int, metavar="N",
                       help="period of the seasonal naive model and of ARIMA's Fourier terms, "
                            "in steps (default for CO2: 52, and 365.25 / 7 for ARIMA; needed "
                            "for the seasonal model elsewhere; without it ARIMA is "
                            "non-seasonal)")
    group.add_argument("--arima-fit-length", type=_non_negative_int, metavar="N",
                       help="fit ARIMA on the last N training observations only (0: all; "
                            "default: 3000 for the ECG, all for CO2, 5000 for a CSV)")
    group.add_argument("--arima-max-p", type=_non_negative_int, metavar="P",
                       help="largest AR order of the automatic search (default: 3)")
    group.add_argument("--arima-max-q", type=_non_negative_int, metavar="Q",
                       help="largest MA order of the automatic search (default: 2 for the ECG, "
                            "3 otherwise)")


def _param_option(parser, several_models=False):
    scope = ("MODEL.NAME=VALUE sets it on one model (gru.hidden_size=32), NAME=VALUE on every "
             "compared model that has NAME" if several_models else
             "on the --model's forecaster (RNNForecaster for lstm and gru)")
    parser.add_argument("--param", action="append", type=_param_pair, metavar="NAME=VALUE",
                        help=f"set a parameter of the forecaster, repeatable, e.g. --param "
                             f"hidden_size=32 --param tbptt=(20,40); {scope}. VALUE is read "
                             f"as a Python literal where it is one, else as text; the values "
                             f"are checked before any data is read")


_FREQ_HELP = ("put the CSV rows on this grid, e.g. B (business days), h or 15min, or N steps "
              "for step numbers: missing steps become gaps, times between steps are an "
              "error (default: inferred; weekdays only are business days)")


_FILE_HELP = ("CSV file with a header row, or a PhysioNet WFDB record (its .hea file, or its "
              "path without suffix; needs the wfdb package)")


def _csv_options(parser, several=False, forecast=False):
    if forecast:
        parser.add_argument("file", metavar="FILE.csv", nargs="?",
                            help=_FILE_HELP + "; optional with --model-file")
        parser.add_argument("--column", nargs="+", metavar="NAME",
                            help="column(s) (or the record's channels) to forecast; several are "
                                 "forecast jointly by one model, one output column each (with "
                                 "--coverage: NAME, lower_NAME, upper_NAME per column; one "
                                 "--column writes lower and upper)")
    else:
        parser.add_argument("file", metavar="FILE.csv", nargs="+" if several else None,
                            help=_FILE_HELP + ("; several: each scored on its own, then pooled"
                                               if several else ""))
        parser.add_argument("--column", required=True, metavar="NAME",
                            help="column (or the record's channel) to forecast")
    parser.add_argument("--time-column", metavar="NAME",
                        help="column with the times (default: the first column); dates, "
                             "durations, step numbers or seconds")
    parser.add_argument("--freq", metavar="FREQ", help=_FREQ_HELP)
    parser.add_argument("--horizon", required=True, type=_positive_int, metavar="N",
                        help="steps to forecast")


def build_parser():
    """The argument parser of the ``tsrnn`` command.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> from tsrnn.cli import build_parser
    >>> build_parser().parse_args(["compare"]).origins
    200
    """
    from tsrnn import __version__

    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="tsrnn",
        description="Forecast time series with recurrent neural networks (LSTM, GRU) and "
                    "ARIMA, Markov and naive baselines.",
    )
    parser.add_argument("--version", action="version", version=f"tsrnn {__version__}")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show the full traceback on errors")
    parser.add_argument("-q", "--quiet", "--no-progress", action="store_true", default=False,
                        help="no progress bars or stage messages on stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_compare(commands, common)
    _add_forecast(commands, common)
    _add_backtest(commands, common)
    return parser


def _add_compare(commands, common):
    compare = commands.add_parser(
        "compare", parents=[common],
        help="compare LSTM, GRU, ARIMA, Markov and naive forecasts (default: on the ECG)",
        description="Fit every model once on the first part of a series, forecast from "
                    "rolling origins over the rest and print MASE, sMAPE, MAE, fit and predict "
                    "time per model and horizon. Default: the embedded ECG, horizons 36 and "
                    "180 samples (0.1 s and 0.5 s at 360 Hz).",
    )
    source = compare.add_argument_group("data (default: the embedded ECG)")
    source.add_argument("--dataset", choices=("ecg", "co2"),
                        help="embedded data set: ecg (MIT-BIH record 208, 360 Hz) or co2 "
                             "(Mauna Loa, weekly)")
    source.add_argument("--csv", metavar="FILE", nargs="+",
                        help="compare on a column of this CSV file (or a channel of this WFDB "
                             "record); several: a table each, then their mean")
    source.add_argument("--column", metavar="NAME",
                        help="the CSV column (or the record's channel) to forecast")
    source.add_argument("--time-column", metavar="NAME",
                        help="the CSV column with the times (default: the first column)")
    source.add_argument("--freq", metavar="FREQ", help=_FREQ_HELP)
    protocol = compare.add_argument_group("protocol")
    protocol.add_argument("--models", nargs="+", choices=MODEL_NAMES, metavar="MODEL",
                          help=f"models to compare, among {', '.join(MODEL_NAMES)} (default: "
                               f"all but seasonal; CO2 and --season-length add seasonal)")
    protocol.add_argument("--horizons", nargs="+", type=_positive_int, metavar="H",
                          help="steps ahead to score (default: 36 180 for the ECG, 4 52 for "
                               "CO2, 10 50 for a CSV)")
    protocol.add_argument("--origins", type=_positive_int, default=DEFAULT_ORIGINS,
                          help="forecast origins spread over the test part (default: "
                               "%(default)s)")
    protocol.add_argument("--train-fraction", type=_fraction, default=DEFAULT_TRAIN_FRACTION,
                          metavar="F", help="share of the series the models are fitted on "
                                            "(default: %(default)s)")
    protocol.add_argument("--context-length", type=_non_negative_int, default=DEFAULT_CONTEXT,
                          metavar="N",
                          help="observations before each origin given to the models as "
                               "context (0: all; default: %(default)s)")
    _model_options(compare)
    _param_option(protocol, several_models=True)
    protocol.add_argument("--coverage", type=_fraction, default=0.9, metavar="C",
                          help="nominal coverage of the prediction intervals scored (columns "
                               "'cover %%' and 'MSIS'; default: %(default)s)")
    protocol.add_argument("--no-intervals", action="store_true",
                          help="score point forecasts only (faster)")
    _parallel_options(protocol)
    output = compare.add_argument_group("output")
    output.add_argument("--out", metavar="FILE.csv", help="also write the table as CSV")
    output.add_argument("--plot", metavar="FILE.png",
                        help='write a figure of forecasts and error per step (needs '
                             'matplotlib: pip install "tsrnn[plot]")')
    compare.set_defaults()


def _add_forecast(commands, common):
    forecast = commands.add_parser(
        "forecast", parents=[common], help="forecast a column of a CSV file",
        description="Fit a model on a whole CSV column (or several, forecast jointly) and "
                    "write its forecast as CSV: the time, then one column per forecast "
                    "column. --model-file forecasts with a model saved by --save instead, "
                    "without fitting.",
    )
    _csv_options(forecast, forecast=True)
    forecast.add_argument("--model", choices=MODEL_NAMES,
                          help="model (default: lstm)")
    _param_option(forecast)
    forecast.add_argument("--out", metavar="FILE.csv",
                          help="write the forecast here (default: standard output)")
    forecast.add_argument("--plot", metavar="FILE.png",
                          help="write a figure of the series end and the forecast")
    forecast.add_argument("--coverage", type=_fraction, metavar="C",
                          help="also write a prediction interval of this nominal coverage, e.g. "
                               "0.9 (columns 'lower' and 'upper'; with several --column, "
                               "lower_NAME and upper_NAME after each column NAME)")
    forecast.add_argument("--past-covariates", nargs="+", metavar="NAME",
                          help="columns (or channels) whose history the lstm or gru reads "
                               "while it is known, e.g. MCL1 RESP beside --column ABP; their "
                               "future is not needed")
    _covariate_options(forecast)
    _model_file_options(forecast)
    _model_options(forecast)
    forecast.set_defaults()


def _covariate_options(forecast):
    group = forecast.add_argument_group("known-future covariates")
    group.add_argument("--covariates", nargs="+", metavar="NAME",
                       help="columns (or channels) known ahead, e.g. a planned dose or the "
                            "calendar, that the lstm, gru or arima model reads beside the "
                            "target (its X); --future gives their values over the horizon")
    group.add_argument("--future", metavar="FILE.csv",
                       help="CSV file with the --covariates' values at exactly the --horizon "
                            "times that follow the data, in the data's time format and time "
                            "column (--time-column, or the first column)")


def _model_file_options(forecast):
    group = forecast.add_argument_group("saved models (lstm and gru)")
    group.add_argument("--save", metavar="MODEL.tsrnn",
                       help="write the fitted model to this file (lstm and gru only)")
    group.add_argument("--model-file", metavar="MODEL.tsrnn",
                       help="forecast with a model written by --save, without fitting: from "
                            "the end of the data it was fitted on, or, when FILE.csv and "
                            "--column are given, from that column as context (its covariates "
                            "and past covariates from the same file)")


def _parallel_options(parser):
    parser.add_argument("--n-jobs", type=int, metavar="N",
                        help="origins forecast in parallel by N worker processes (-1: one per "
                             "core; default: serially, or every worker of --scheduler)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the origins on the Dask cluster of this scheduler, e.g. "
                             "tcp://10.0.0.5:8786 (needs pip install 'tsrnn[dask]')")


def _add_backtest(commands, common):
    backtest = commands.add_parser(
        "backtest", parents=[common], help="rolling-origin scores of one model on a CSV column",
        description="Score forecasts of one model from the last K origins of a CSV column: "
                    "MAE, RMSE, sMAPE and MASE per origin and their mean.",
    )
    _csv_options(backtest, several=True)
    backtest.add_argument("--model", choices=MODEL_NAMES, required=True, help="model")
    _param_option(backtest)
    backtest.add_argument("--origins", type=_positive_int, default=10,
                          help="number of origins (default: %(default)s)")
    backtest.add_argument("--step", type=_positive_int,
                          help="steps between origins (default: the horizon)")
    backtest.add_argument("--context-length", type=_non_negative_int, default=DEFAULT_CONTEXT,
                          metavar="N",
                          help="observations before each origin given as context (0: all; "
                               "default: %(default)s)")
    backtest.add_argument("--refit", action="store_true",
                          help="refit at every origin instead of fitting once on the data "
                               "before the first origin")
    backtest.add_argument("--coverage", type=_fraction, metavar="C",
                          help="also score a prediction interval of this nominal coverage, e.g. "
                               "0.9 (coverage, width and interval score per origin)")
    _parallel_options(backtest)
    backtest.add_argument("--out", metavar="FILE.csv", help="also write the per-origin scores")
    _model_options(backtest)
    backtest.set_defaults()


def _stderr(message):
    if sys.stderr is not None:
        print(message, file=sys.stderr, flush=True)


def _forecast_problem(args):
    """What is wrong with a combination of ``forecast`` options argparse cannot check (None
    when nothing is); it sets the default model."""
    if (args.covariates is None) != (args.future is None):
        return "--covariates and --future go together: the columns, and their future values"
    if args.model_file is None:
        if args.file is None or args.column is None:
            return ("give FILE.csv and --column NAME (the data to fit), or --model-file "
                    "MODEL.tsrnn to forecast with a saved model")
        args.model = args.model or "lstm"
    else:
        given = [option for option, value in (("--model", args.model), ("--param", args.param),
                                              ("--save", args.save)) if value is not None]
        if given:
            return f"--model-file forecasts with a fitted model: leave out {', '.join(given)}"
        if (args.file is None) != (args.column is None):
            return "FILE.csv and --column go together (the context to forecast from)"
        if args.file is None and (args.plot is not None or args.past_covariates is not None):
            return "--plot and --past-covariates read FILE.csv: give it with --column"
    if args.plot is not None and args.column is not None and len(args.column) > 1:
        return "--plot draws one forecast column: give one --column, or leave out --plot"
    return None


def _error_line(exc):
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, (CommandError, ValueError, TypeError, OSError, ImportError)):
        text = f"{type(exc).__name__}: {text}"
    return text


def _silence_stdout():
    """Point standard output at the null device so the interpreter's final flush of a closed
    pipe does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None):
    """Run the ``tsrnn`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 on success, 1 on an error (one line on stderr), 2 on a usage error,
        130 when interrupted.

    Examples
    --------
    >>> from tsrnn.cli import main
    >>> main(["compare", "--models", "naive", "markov", "--origins", "5"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    problem = _forecast_problem(args) if args.command == "forecast" else None
    if problem is not None:
        _stderr(f"tsrnn forecast: error: {problem} (tsrnn forecast --help lists the options)")
        return 2
    if sys.stdout is None:  # started with standard output closed
        _stderr(f"tsrnn {args.command}: error: standard output is closed; redirect it to a "
                f"file or use --out FILE")
        return 1
    try:
        from tsrnn import _commands  # here: the heavy imports wait until they are needed

        return _commands.run(args)
    except KeyboardInterrupt:
        _stderr("tsrnn: interrupted")
        return 130
    except BrokenPipeError:  # the reader stopped early (e.g. piped into head): not an error
        _silence_stdout()
        return 0
    except Exception as exc:
        if args.debug:
            raise
        _stderr(f"tsrnn {args.command}: error: {_error_line(exc)}")
        return 1


if __name__ == "__main__":  # pragma: no cover
    # the importable module's main: its CommandError is the one the commands raise (this
    # copy's class is another, and its errors would be reported with their type's name)
    from tsrnn.cli import main as _main

    sys.exit(_main())


def __getattr__(name):
    # run_comparison stays importable from here without importing it with the parser
    if name == "run_comparison":
        from tsrnn.comparison import run_comparison

        return run_comparison
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
