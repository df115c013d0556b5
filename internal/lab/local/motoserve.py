# Serves moto, every AWS service in one in-memory server, one request at a
# time: a conditional write is checked and stored before the next request is
# read, as DynamoDB does for one item. moto_server itself serves requests on
# several threads and lets two conditional UpdateItem calls both succeed.
#
# Usage: python3 motoserve.py HOST PORT (or python3 -c "$(cat motoserve.py)" HOST PORT).
# PORT 0 binds a free port; the server prints the port it listens on, so
# that no other process can take it between a choice and the bind.
import logging
import os
import signal
import sys

try:
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server
except ImportError as e:
    sys.exit("moto is not installed for %s (make tools installs it): %s" % (sys.executable, e))

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
# The state is in memory and thrown away: stop at once, without waiting for
# the threads of running state machine executions.
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
# One line per request would bury what a failing test shows of the log.
logging.getLogger("werkzeug").setLevel(logging.WARNING)
app = DomainDispatcherApplication(create_backend_app)
# Build the services maptuner calls before listening, so that their first
# requests are not the ones that wait for Python to load them.
for service in ("stepfunctions", "dynamodb", "cloudwatch"):
    app.app_instances[service] = create_backend_app(service)
server = make_server(host, port, app, threaded=False)
print("moto listening on port %d" % server.port, flush=True)
server.serve_forever()
