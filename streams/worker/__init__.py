"""The faust process around `streams.counting`: records in from Kafka, snapshots, alerts and dead letters out.

`app` builds the faust app and topics; `agents` wires the thin loops (`TallyWorker`);
`outbox` sends dead letters and alerts; `book_reader` follows definitions and expected votes;
`publisher` sends the coalesced snapshots on fenced producers; `rebuild` and `checkpoint`
rebuild the tallies from the input log; `fence` keeps a worker woken from a freeze quiet;
`guard` keeps timers and tasks alive through their own failures; `collector` tends Python's
cyclic garbage collector; `process` runs it all under faust's Worker. The command is
`streams.commands.worker`.
"""
