"""Load test: signed webhook posts from many simulated users to gunicorn on 127.0.0.1.

A local Graph API stand-in captures the replies. Each simulated user writes, waits for the reply,
then writes again (as people do), so latency is measured from the POST to the reply reaching the
stand-in. Every message id must be answered exactly once: lost and duplicated replies are counted.
Bounded in messages and seconds; only loopback addresses are used.

    python scripts/loadtest.py --messages 3000 --users 60 --store sqlite
    python scripts/loadtest.py --store redis --workers 2 --seconds 30
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
SECRET = "loadtest-app-secret"
PHONE_ID = "100200300"
TEXTS = (
    "hola",
    "busco un versa de menos de 300 mil",
    "el 2",
    "con 20% de enganche a 4 años",
    "¿dónde están en monterrey?",
    "busco una camioneta 2020 en adelante con carplay",
    "el 1",
    "¿tiene bluetooth?",
    "gracias",
)


class GraphStandIn:
    """Speaks enough of the Cloud API messages endpoint; records sends and read receipts."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s  # the real Graph API answers in tens to hundreds of ms
        self.reads: dict[str, int] = defaultdict(int)
        self.sends: dict[str, int] = defaultdict(int)
        self.events: dict[str, threading.Event] = defaultdict(threading.Event)
        self.lock = threading.Lock()
        self.counter = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out without a 40 ms stall

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if stand_in.latency_s:
                    time.sleep(stand_in.latency_s)
                reply = stand_in.record(body)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, body: dict) -> dict:
        with self.lock:
            if body.get("status") == "read":
                self.reads[body["message_id"]] += 1
                return {"success": True}
            self.counter += 1
            self.sends[body["to"]] += 1
            wamid = f"wamid.out.{self.counter}"
        self.events[body["to"]].set()
        return {"messaging_product": "whatsapp", "messages": [{"id": wamid}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    args: argparse.Namespace, graph_port: int, workdir: Path
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    store = f"sqlite:///{workdir / 'load.db'}" if args.store == "sqlite" else args.redis_url
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "STORE_URL": store,
        "WHATSAPP_API_BASE": f"http://127.0.0.1:{graph_port}/v21.0",
        "WHATSAPP_ACCESS_TOKEN": "loadtest-token",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_VERIFY_TOKEN": "loadtest",
        "ADMIN_TOKEN": "loadtest-admin",
        "OPENAI_API_KEY": "",
        "LOG_LEVEL": "ERROR",
        "WEB_CONCURRENCY": str(args.workers),
        "REDIS_KEY_PREFIX": f"kavak-load-{os.getpid()}:",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "gunicorn.conf.py",
        "server:create_app()",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not become healthy within 30 s")


def payload(user: str, message_id: str, text: str) -> bytes:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "5215500000000",
                                "phone_number_id": PHONE_ID,
                            },
                            "contacts": [{"profile": {"name": "Cliente"}, "wa_id": user}],
                            "messages": [
                                {
                                    "from": user,
                                    "id": message_id,
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body).encode()


def simulate_user(
    index: int,
    port: int,
    graph: GraphStandIn,
    budget: list[int],
    stop_at: float,
    latencies: list[float],
    sent_ids: list[str],
    lock: threading.Lock,
    redeliver_every: int,
    keepalive: bool = False,
) -> None:
    user = f"52155{index:08d}"
    turn = 0
    connection = None
    while time.monotonic() < stop_at:
        with lock:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        message_id = f"wamid.in.{index}.{turn}"
        body = payload(user, message_id, TEXTS[turn % len(TEXTS)])
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        event = graph.events[user]
        event.clear()
        started = time.perf_counter()
        # by default a new connection per delivery, which spreads them over the gunicorn workers;
        # --keepalive reuses one per user (cheaper per request, but gunicorn may give them all to
        # one worker)
        if connection is None or not keepalive:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/webhook", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if redeliver_every and turn % redeliver_every == 0:  # Meta redelivers now and then
            connection.request("POST", "/webhook", body=body, headers=headers)
            connection.getresponse().read()
        if not keepalive:
            connection.close()
        answered = event.wait(timeout=10)
        with lock:
            sent_ids.append(message_id)
            if answered and response.status == 200:
                latencies.append((time.perf_counter() - started) * 1000)
        turn += 1


def run(args: argparse.Namespace) -> dict[str, float]:
    graph = GraphStandIn(args.graph_latency_ms / 1000)
    with tempfile.TemporaryDirectory() as workdir:
        process, port = start_server(args, graph.port, Path(workdir))
        try:
            latencies, sent_ids, lock = [], [], threading.Lock()
            budget = [args.messages]
            cpu_before = server_cpu_seconds(process.pid)
            started = time.monotonic()
            stop_at = started + args.seconds
            threads = [
                threading.Thread(
                    target=simulate_user,
                    args=(
                        i,
                        port,
                        graph,
                        budget,
                        stop_at,
                        latencies,
                        sent_ids,
                        lock,
                        args.redeliver_every,
                        args.keepalive,
                    ),
                )
                for i in range(args.users)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            time.sleep(1.0)  # let late replies (and any wrongful duplicates) arrive
            server_side = server_turn_times(port)
            cpu = server_cpu_seconds(process.pid) - cpu_before
            server_side["server_cpu_ms_per_message"] = round(cpu / max(1, len(sent_ids)) * 1000, 2)
        finally:
            process.terminate()
            process.wait(timeout=20)
    report = summarise(args, graph, latencies, sent_ids, elapsed)
    report.update(server_side)
    print(f"server side (one worker's view): {server_side}")
    return report


def server_cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) of the gunicorn master and its workers, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [master_pid]
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
        pids += [int(pid) for pid in children]
    except OSError:
        return float("nan")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def server_turn_times(port: int) -> dict[str, float]:
    """Mean time a worker spent per WhatsApp turn (receive → reply sent), from /metrics."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    values = {
        sample.name.rsplit("_", 1)[1]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "kavak_turn_latency_seconds"
        for sample in family.samples
        if sample.labels.get("channel") == "whatsapp" and sample.name.endswith(("_sum", "_count"))
    }
    count = values.get("count", 0.0)
    mean = values.get("sum", 0.0) / count * 1000 if count else float("nan")
    return {"server_turns": count, "server_turn_mean_ms": round(mean, 2)}


def summarise(
    args, graph: GraphStandIn, latencies: list[float], sent_ids: list[str], elapsed: float
):
    lost = sum(1 for message_id in sent_ids if graph.reads.get(message_id, 0) == 0)
    duplicated = sum(1 for message_id in sent_ids if graph.reads.get(message_id, 0) > 1)
    latencies.sort()
    report = {
        "messages": len(sent_ids),
        "seconds": round(elapsed, 2),
        "throughput_per_s": round(len(sent_ids) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(statistics.median(latencies), 2) if latencies else float("nan"),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 2)
        if latencies
        else float("nan"),
        "lost": lost,
        "duplicated": duplicated,
        "replies_sent": sum(graph.sends.values()),
    }
    print(
        f"store={args.store} workers={args.workers} users={args.users}"
        f"{' keepalive' if args.keepalive else ''}"
        f"{f' graph-latency={args.graph_latency_ms:g}ms' if args.graph_latency_ms else ''}: "
        f"{report['messages']} messages in {report['seconds']} s = "
        f"{report['throughput_per_s']} msg/s; "
        f"p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms until the reply is sent; "
        f"lost {lost}, duplicated {duplicated}"
    )
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3000, help="stop after this many (bounded)")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="stop after this long (bounded)"
    )
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--redeliver-every", type=int, default=10, help="resend every Nth message")
    parser.add_argument("--graph-latency-ms", type=float, default=0.0,
                        help="delay of each Graph API call, as over the internet")  # fmt: skip
    parser.add_argument("--keepalive", action="store_true", help="one connection per user")
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    args = parser.parse_args(argv)
    args.seconds = min(args.seconds, 300.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report))
    return 0 if report["lost"] == 0 and report["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
