"""The live model of the vote still out: baselines, the estimate, and its calibration.

Pure code (no Kafka, no faust, no asyncio; `[tool.importlinter]` holds it to that), below
counting, whose snapshots may carry its estimate: `baselines` is the `baseline/1` message (a
previous election's results per reporting unit) and its decoding; `sources` builds baselines
from county results and recordings (`streams.adapters.baselines` adds OpenElections CSVs);
`estimate` projects a race's final vote from its current reports and a baseline, with
conformal prediction intervals (`conformal`); `calibration` scores projections against a known
truth, and `check` replays a night through the model for `make model-check` (its simulated
nights: `streams.simulation.model_check`).
"""
