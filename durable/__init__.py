"""One SQLite connection on one thread, with group commit: the durable worker.

The agent's spool, the collector's InfluxDB buffer and its SQLite store each keep a local
SQLite file that must be on disk before they answer, and must never block the event loop. They
share this one worker:

    worker = Worker(connect, name="spool", linger=0.05, before_commit=cap)
    await worker.open()
    rows = await worker.run(lambda conn: conn.execute("SELECT …").fetchall())
    await worker.transaction(lambda conn: conn.execute("INSERT …"))  # committed on return
    await worker.close()

`transaction` calls waiting at the same time share one commit (one fsync), each inside its own
SAVEPOINT: an error in one reaches only its caller, the others commit. Standard library only;
imports nothing of ours (the agent may use it, and the agent may not import the collector).
"""

from durable.worker import Worker, WorkerClosed

__all__ = ["Worker", "WorkerClosed"]
