"""The live model of the vote still out: baselines, the estimate, and its calibration.

Pure code (no Kafka, no asyncio): `baselines` is the `baseline/1` message (a previous
election's results per reporting unit) and its decoding; `sources` builds baselines from files;
`estimate` projects a race's final vote from its current reports and a baseline, with
conformal prediction intervals; `calibration` scores projections against a known truth, and
`check` (`make model-check`) runs that over simulated nights and the real Minnesota 2024 night.
"""
