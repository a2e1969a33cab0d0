"""auedge.benchmarks: the evidence a user reads before choosing a model variant for a device.

Each script runs as ``python benchmarks/NAME.py`` or ``python -m auedge.benchmarks.NAME``, prints a
table, writes ``benchmarks/results/NAME-<bundle>-<date>.json`` (atomically) and PNG plots:

* ``latency``  - every variant x backend x threads, the face detector, the whole pipeline, memory;
* ``accuracy`` - every variant against the float Keras model and the labels, bare and occluded;
* ``peers``    - an established AU tool on the same images, or the record of why none could run;
* ``http_clients`` - the daemon's frame rate, threads and descriptors with 300 idle HTTP clients;
* ``report``   - gathers the latest results into ``benchmarks/results/REPORT.md``.

Nothing here is a timed test: numbers depend on the machine and its load, which every result records.
"""
