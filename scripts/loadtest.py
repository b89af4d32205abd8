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
import asyncio
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
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
SECRET = "loadtest-app-secret"
ADMIN_TOKEN = "loadtest-admin"
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
        # one user's messages are answered one at a time: the read receipt of a message, then its
        # reply; so the first send to a user after a read receipt answers that message
        self.answering: dict[str, str] = {}
        self.replied_at: dict[str, float] = {}
        self.events: dict[str, threading.Event] = defaultdict(threading.Event)
        self.lock = threading.Lock()
        self.counter = 0
        self.received = 0  # requests, answered or not
        self.in_flight = 0  # replies received and not yet answered (a crash now may repeat them)
        # asyncio, not http.server: the stand-in shares the 2 cores with the server it measures,
        # and http.server's per-request thread and header parsing cost ~0.5 ms CPU per message
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """HTTP/1.1 keep-alive: request line and headers, a Content-Length body, a JSON answer."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = json.loads(await reader.readexactly(content_length(head)) or b"{}")
                reply = "to" in body
                self.received += 1
                self.in_flight += reply
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                data = json.dumps(self.record(body)).encode()
                self.in_flight -= reply
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed its connection
        finally:
            writer.close()

    def record(self, body: dict) -> dict:
        now = time.perf_counter()
        with self.lock:
            if body.get("status") == "read":
                message_id = body["message_id"]
                self.reads[message_id] += 1
                self.answering[message_id.rsplit(".", 1)[0]] = message_id  # wamid.in.<user>.<n>
                return {"success": True}
            self.counter += 1
            self.sends[body["to"]] += 1
            wamid = f"wamid.out.{self.counter}"
            answered = self.answering.pop(user_key(body["to"]), None)
            if answered is not None:
                self.replied_at.setdefault(answered, now)
        self.events[body["to"]].set()
        return {"messaging_product": "whatsapp", "messages": [{"id": wamid}]}


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


class RawConnection:
    """A minimal HTTP/1.1 client for the simulated users (http.client's email-based header parsing
    is most of a user's CPU, taken from the server being measured)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._receive()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        length = content_length(head)
        while len(self.buffer) < length:
            self.buffer += self._receive()
        self.buffer = self.buffer[length:]
        return int(head.split(b" ", 2)[1])

    def _receive(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def user_phone(index: int) -> str:
    return f"52155{index:08d}"


def user_key(phone: str) -> str:
    return f"wamid.in.{int(phone[5:])}"


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
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "OPENAI_API_KEY": "",
        "LOG_LEVEL": "ERROR",
        "WEB_CONCURRENCY": str(args.workers),
        # each simulated user writes dozens of messages a second, far above any person's rate:
        # the per-customer limit stays on (its count is part of the cost) but never bites
        "MESSAGES_PER_MINUTE": "1000000",
        "REDIS_KEY_PREFIX": redis_prefix(args),
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
                wait_until_booted(process.pid, args.workers, deadline)
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not become healthy within 30 s")


def redis_prefix(args: argparse.Namespace) -> str:
    """Each run its own keys: a second run reuses the message ids, which the first marked seen."""
    return f"kavak-load-{os.getpid()}-{args.run}:"


def forget_redis_keys(args: argparse.Namespace) -> None:
    """Leave the developer's Redis as it was (state and history keys have no TTL)."""
    sys.path.insert(0, str(ROOT))
    from dialog.store.redis_store import RedisStore

    store = RedisStore(args.redis_url, prefix=redis_prefix(args))
    store.clear()
    store.close()


def wait_until_booted(master_pid: int, workers: int, deadline: float) -> None:
    """/health answered by one worker says little of the others: a worker still importing spaCy and
    the catalog would take CPU from the first measured messages. Wait until every worker exists
    and none of them used more than 20 ms of CPU in the last 0.25 s."""
    before = None
    while time.monotonic() < deadline:
        pids = worker_pids(master_pid)
        now = {pid: process_cpu_seconds(pid) for pid in pids}
        settled = before is not None and before.keys() == now.keys()
        if len(pids) >= workers and settled and all(now[p] - before[p] < 0.02 for p in pids):
            return
        before = now
        time.sleep(0.25)


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


class Load:
    """What the simulated users share: the server, the stand-in, the budget and the timings."""

    def __init__(self, args: argparse.Namespace, port: int, graph: GraphStandIn) -> None:
        self.args, self.port, self.graph = args, port, graph
        self.lock = threading.Lock()
        self.taken = 0
        self.posted_at: dict[str, float] = {}  # message id → when it was (due to be) sent
        self.refused = 0

    def take(self) -> int | None:
        """The next message's number, or None when the budget is spent."""
        with self.lock:
            if self.taken >= self.args.messages:
                return None
            self.taken += 1
            return self.taken - 1

    def deliver(self, index: int, turn: int, due: float, connection=None) -> None:
        """One signed webhook POST (and now and then a redelivery, as Meta does)."""
        user, message_id = user_phone(index), f"wamid.in.{index}.{turn}"
        # users are at different points of the script, as real traffic is: in step, every user
        # would search in the same second and the load would come in waves
        body = payload(user, message_id, TEXTS[(turn + index) % len(TEXTS)])
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        with self.lock:
            self.posted_at[message_id] = due
        own = connection is None
        connection = connection or RawConnection(self.port)
        redelivered = self.args.redeliver_every and turn % self.args.redeliver_every == 0
        try:
            for _ in range(2 if redelivered else 1):
                if connection.post("/webhook", body, headers) != 200:
                    with self.lock:
                        self.refused += 1
        finally:
            if own:
                connection.close()


def closed_loop_user(load: Load, index: int, stop_at: float) -> None:
    """Writes, waits for the reply, writes again (the most load a few users can make)."""
    turn, connection = 0, None
    event = load.graph.events[user_phone(index)]
    while time.monotonic() < stop_at and load.take() is not None:
        event.clear()
        # by default a new connection per delivery, which spreads them over the gunicorn workers;
        # --keepalive reuses one per user (cheaper per request, but gunicorn may give them all to
        # one worker)
        if load.args.keepalive and connection is None:
            connection = RawConnection(load.port)
        load.deliver(index, turn, time.perf_counter(), connection)
        event.wait(timeout=10)
        turn += 1


def open_loop_sender(load: Load, started: float, stop_at: float) -> None:
    """Messages arrive on a fixed schedule (--rate), whatever the server's pace: message i is due
    at i / rate, to user i mod --users. Latency counts from the due time, so a sender held up by
    a slow server does not hide the delay (no coordinated omission)."""
    while time.monotonic() < stop_at:
        number = load.take()
        if number is None:
            return
        due = started + number / load.args.rate
        time.sleep(max(0.0, due - time.perf_counter()))
        index, turn = number % load.args.users, number // load.args.users
        load.deliver(index, turn, due)


def run(args: argparse.Namespace) -> dict[str, float]:
    graph = GraphStandIn(args.graph_latency_ms / 1000)
    with tempfile.TemporaryDirectory() as workdir:
        process, port = start_server(args, graph.port, Path(workdir))
        try:
            load = Load(args, port, graph)
            cpu_before = server_cpu_seconds(process.pid)
            own_before, redis_before = own_cpu_seconds(), redis_cpu_seconds(args)
            started = time.monotonic()
            stop_at = started + args.seconds
            if args.rate:
                clock = time.perf_counter()
                threads = [
                    threading.Thread(target=open_loop_sender, args=(load, clock, stop_at))
                    for _ in range(args.senders)
                ]
            else:
                threads = [
                    threading.Thread(target=closed_loop_user, args=(load, i, stop_at))
                    for i in range(args.users)
                ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            wait_for_replies(graph, load, timeout=10.0)
            time.sleep(1.0)  # let any wrongful duplicates arrive
            server_side = server_turn_times(port)
            per_message = 1000 / max(1, len(load.posted_at))
            cpu = server_cpu_seconds(process.pid) - cpu_before
            server_side["server_cpu_ms_per_message"] = round(cpu * per_message, 2)
            # the rest of the machine's 2 cores: this process (users + Graph stand-in) and Redis
            own = own_cpu_seconds() - own_before
            server_side["loadgen_cpu_ms_per_message"] = round(own * per_message, 2)
            if args.store == "redis":
                redis_cpu = redis_cpu_seconds(args) - redis_before
                server_side["redis_cpu_ms_per_message"] = round(redis_cpu * per_message, 2)
        finally:
            process.terminate()
            process.wait(timeout=20)
            if args.store == "redis":
                forget_redis_keys(args)
    report = summarise(args, graph, load, elapsed)
    report.update(server_side)
    print(f"server side (all workers) and CPU per message: {server_side}")
    return report


def wait_for_replies(graph: GraphStandIn, load: Load, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with graph.lock:
            if all(message_id in graph.replied_at for message_id in load.posted_at):
                return
        time.sleep(0.05)


def worker_pids(master_pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children]


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of one process, from /proc (Linux); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def server_cpu_seconds(master_pid: int) -> float:
    """CPU time of the gunicorn master and its workers."""
    if not Path(f"/proc/{master_pid}").exists():
        return float("nan")
    return sum(process_cpu_seconds(pid) for pid in [master_pid, *worker_pids(master_pid)])


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def redis_cpu_seconds(args: argparse.Namespace) -> float:
    """CPU time of the Redis server (INFO cpu), or 0 when the store is not Redis."""
    if args.store != "redis":
        return 0.0
    import redis

    info = redis.Redis.from_url(args.redis_url).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def server_turn_times(port: int) -> dict[str, float]:
    """Mean time per WhatsApp turn (receive → reply sent) over all workers, from /metrics."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
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


def summarise(args, graph: GraphStandIn, load: Load, elapsed: float) -> dict[str, float]:
    sent_ids = list(load.posted_at)
    lost = sum(1 for message_id in sent_ids if graph.reads.get(message_id, 0) == 0)
    duplicated = sum(1 for message_id in sent_ids if graph.reads.get(message_id, 0) > 1)
    latencies = sorted(
        (graph.replied_at[message_id] - due) * 1000
        for message_id, due in load.posted_at.items()
        if message_id in graph.replied_at
    )
    unanswered = len(sent_ids) - len(latencies)
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
        "unanswered": unanswered,
        "refused": load.refused,
        "replies_sent": sum(graph.sends.values()),
    }
    mode = f"open loop at {args.rate:g} msg/s" if args.rate else "closed loop"
    print(
        f"store={args.store} workers={args.workers} users={args.users} {mode}"
        f"{' keepalive' if args.keepalive else ''}"
        f"{f' graph-latency={args.graph_latency_ms:g}ms' if args.graph_latency_ms else ''}: "
        f"{report['messages']} messages in {report['seconds']} s = "
        f"{report['throughput_per_s']} msg/s; "
        f"p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms until the reply is sent; "
        f"lost {lost}, duplicated {duplicated}, unanswered {unanswered}, refused {load.refused}"
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
    parser.add_argument("--rate", type=float, default=0.0,
                        help="open loop: messages per second on a fixed schedule, spread "
                        "over --users (default: closed loop, users wait for replies)")  # fmt: skip
    parser.add_argument("--senders", type=int, default=64, help="open loop: posting threads")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--redeliver-every", type=int, default=10, help="resend every Nth message")
    parser.add_argument("--graph-latency-ms", type=float, default=0.0,
                        help="delay of each Graph API call, as over the internet")  # fmt: skip
    parser.add_argument("--keepalive", action="store_true", help="one connection per user")
    parser.add_argument("--repeat", type=int, default=1, help="runs, each on a fresh server")
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    args = parser.parse_args(argv)
    args.seconds = min(args.seconds, 300.0)
    args.repeat = max(1, min(args.repeat, 10))
    args.run = 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reports = []
    for number in range(1, args.repeat + 1):
        args.run = number
        reports.append(run(args))
    if args.repeat > 1:  # this machine's speed varies run to run: the median is the figure
        middle = {
            key: statistics.median(r[key] for r in reports)
            for key in ("throughput_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_message")
        }
        spread = [r["throughput_per_s"] for r in reports]
        print(
            f"median of {args.repeat} runs: {middle['throughput_per_s']:.1f} msg/s "
            f"(range {min(spread):.1f}-{max(spread):.1f}), p50 {middle['p50_ms']:.2f} ms, "
            f"p99 {middle['p99_ms']:.2f} ms, server CPU {middle['server_cpu_ms_per_message']:.2f} "
            "ms/message"
        )  # fmt: skip
    if args.json:
        print(json.dumps(reports if args.repeat > 1 else reports[0]))
    failed = sum(r["lost"] + r["duplicated"] + r["unanswered"] + r["refused"] for r in reports)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
