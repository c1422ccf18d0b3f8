"""DinoAir's benchmark suite: every figure is a ratio against a baseline measured in the same run.

Run it::

    make bench                                   # == .venv/bin/python -m benchmarks (~3-6 min)
    .venv/bin/python -m benchmarks --quick       # smaller sizes, about a minute
    .venv/bin/python -m benchmarks --only cli    # one group: spans, sanitizer, cli, download,
                                                 # installer (repeat --only or use commas)

It prints a table (figure, baseline, subject, ratio, target, pass/MISS) and writes
``build/bench/results.json`` (every figure with its raw round timings, and the machine: platform,
CPU model, cores, Python, date, load) and ``build/bench/table.md`` (the same table in Markdown,
with the machine line, for the README). A ``--only`` run keeps the other groups' latest figures
of the same mode in both files. The 1 GiB download file is generated once into
``build/bench/serve-1024m/`` and reused while its size and mtime match; child processes cache
bytecode in ``build/bench/pycache``.

How to read it:

* A ratio is subject / baseline: time for time, or throughput for throughput (the download),
  so "<= 1.3x" means at most 30% slower than the baseline and ">= 0.9x" at least 90% of its
  throughput. Absolute numbers depend on the machine; ratios much less so, because baseline and
  subject ran side by side: rounds alternate ABBA and the median of the rounds is taken (for
  the ``dinoair-telemetry`` processes, the best round: load from other work only adds time),
  which cancels drift on a shared machine. The raw rounds in ``results.json`` show the spread.
* MISS means the target was missed on this run; the notes under the table say what limits it.
  Benchmarks do not gate anything: ``make test`` never runs them, and ``python -m benchmarks``
  exits non-zero only when a figure could not be measured at all.

The groups (each module's docstring says exactly what is timed and why):

* ``spans`` (:mod:`benchmarks.spans`): a span with telemetry off (kill switch) against
  ``TracerProvider(sampler=ALWAYS_OFF)``; a span with telemetry on, end to end (sampler,
  sanitizer, journal, session file) against the SDK's ``SimpleSpanProcessor`` writing
  ``span.to_json()`` lines.
* ``sanitizer`` (:mod:`benchmarks.sanitizer`): 10 MB of tracebacks, pip and git output through
  ``Sanitizer.text`` against ``json.dumps`` of the same text; MB/s reported.
* ``cli`` (:mod:`benchmarks.cli`): ``dinoair-telemetry status`` cold start against
  ``python -c "import click"``; ``show-data`` and ``report`` over 10 to 10,000 sessions.
* ``download`` (:mod:`benchmarks.download`): a 1 GiB model from a loopback server, SHA-256
  verified, against ``curl -o``; bytes transferred by a download resumed after a cut at 50%.
* ``installer`` (:mod:`benchmarks.installer_rerun`): a second installer run over a finished
  install of the demo manifest against the first run.
"""
