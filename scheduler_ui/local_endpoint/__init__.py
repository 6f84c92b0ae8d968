"""A local Amazon Lookout for Equipment endpoint speaking the service's real wire protocol.

An unmodified boto3 client (or the AWS CLI) pointed at it with `endpoint_url`
works. `backend.py` is the service in memory, `server.py` puts it on HTTP, and
`python manage.py lookout_endpoint` runs it.
"""
