"""Code that runs inside jobs, not in the broker: standard library only, copied next to the job's files."""
