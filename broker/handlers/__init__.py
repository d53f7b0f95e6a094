"""Pure request handlers: validated domain values in, domain values out, domain errors raised.

No gRPC here: the servicer in broker/api converts proto <-> domain and errors -> status codes, so the same
handlers serve tests and any other front end.
"""
