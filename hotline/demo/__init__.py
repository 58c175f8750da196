"""`hotline demo`: a simulated hotline on loopback, the real collector and agent, a month of
history through the ingest API, live faults, alerts and the month's report."""
