"""The run store: its SQLite file, runs and results, calls, leases, records and run references."""
