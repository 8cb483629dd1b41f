"""The faust process around `streams.counting`: records in from Kafka, snapshots, alerts and dead letters out.

`app` builds the faust app and topics; `agents` wires the thin loops (`TallyWorker`);
`outbox` sends what a record causes and acks it once all is written; `book_reader` follows
definitions, expected votes, baselines and race calls (a call read before its race waits in
`waiting_calls`); `estimates` and `call_alerts` let a race's owner alone speak about its
estimate and its calls;
`publisher` sends the coalesced snapshots on fenced producers; `rebuild` and `checkpoint`
rebuild the tallies from the input log; `fence` keeps a worker woken from a freeze quiet;
`guard` keeps timers and tasks alive through their own failures; `collector` tends Python's
cyclic garbage collector; `process` runs it all under faust's Worker. The command is
`streams.commands.worker`.
"""
