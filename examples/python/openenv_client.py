"""Plays episodes on a turngym env served with OpenEnv's protocol, with a random policy.

    npx turngym serve --openenv puzzle/guess-number-v0 &      # http://127.0.0.1:8765, sessions at ws://.../ws
    python3 examples/python/openenv_client.py --episodes 5

It speaks the wire format of OpenEnv's own client (openenv-core's `EnvClient`: one WebSocket at /ws per
session, `{"type": "reset"|"step"|"state"|"close", "data": ...}` answered by `observation`, `state` or
`error`), so whatever works here works with `GenericEnvClient(base_url=URL)`. Needs the `websockets` package.
Prints one JSON summary line; `--record FILE` writes every reply it got, one JSON object per line.
"""
import argparse
import json
import sys
import urllib.request

from websockets.sync.client import connect

from random_policy import new_rng, random_action


class ServerError(Exception):
    """An `error` reply: OpenEnv's code (e.g. VALIDATION_ERROR) and message."""

    def __init__(self, data):
        super().__init__(f"{data.get('code')}: {data.get('message')}")
        self.code = data.get("code")


def open_socket(base_url, token=None):
    """The WebSocket of one session, at BASE/ws (http:// becomes ws://, as OpenEnv's client does)."""
    ws_url = base_url.replace("https://", "wss://").replace("http://", "ws://").rstrip("/") + "/ws"
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return connect(ws_url, additional_headers=headers, max_size=100 * 2**20, open_timeout=10)


class Session:
    """One OpenEnv session: a WebSocket with one env on the server."""

    def __init__(self, socket, record=None):
        self.socket = socket
        self.record = record

    def send(self, message):
        self.socket.send(json.dumps(message))
        reply = json.loads(self.socket.recv(timeout=60))
        if self.record is not None:
            self.record.write(json.dumps({"sent": message, "reply": reply}) + "\n")
        if reply.get("type") == "error":
            raise ServerError(reply.get("data", {}))
        return reply["data"]

    def reset(self, **data):
        return self.send({"type": "reset", "data": data})

    def step(self, action):
        return self.send({"type": "step", "data": action})

    def state(self):
        return self.send({"type": "state"})

    def close(self):
        self.socket.send(json.dumps({"type": "close"}))


def get(base_url, path, token=None):
    request = urllib.request.Request(base_url.rstrip("/") + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def play(base_url, episodes, seed, max_turns, token, record):
    rng = new_rng(seed)
    health = get(base_url, "/health", token)
    metadata = get(base_url, "/metadata", token)
    with open_socket(base_url, token) as socket:
        session = Session(socket, record)
        tools = session.step({"type": "list_tools"})["observation"]["tools"]
        # random_policy reads turngym's tool shape: the JSON Schema of the arguments under "parameters".
        tools = [{"name": tool["name"], "parameters": tool["input_schema"]} for tool in tools]
        returns, steps, successes, terminated = [], 0, 0, 0
        for episode in range(episodes):
            data = {"seed": seed + episode}
            if max_turns:
                data["maxTurns"] = max_turns
            result = session.reset(**data)
            total = 0.0
            while not result["done"]:
                action = random_action(tools, rng)
                result = session.step({"tool": action["tool"], "args": action["args"]})
                steps += 1
                total += result["reward"]
            observation = result["observation"]
            terminated += 1 if observation["terminated"] else 0
            successes += 1 if observation["info"].get("success") else 0
            returns.append(total)
        state = session.state()
        session.close()
    return {
        "env": metadata["name"],
        "health": health["status"],
        "tools": [tool["name"] for tool in tools],
        "episodes": episodes,
        "steps": steps,
        "terminated": terminated,
        "successes": successes,
        "mean_return": sum(returns) / len(returns) if returns else 0.0,
        "last_state": state,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-turns", type=int, default=0, help="the env's horizon (0: its default)")
    parser.add_argument("--token", default=None)
    parser.add_argument("--record", default=None, help="write every exchange to this JSONL file")
    args = parser.parse_args()
    record = open(args.record, "w") if args.record else None
    try:
        summary = play(args.url, args.episodes, args.seed, args.max_turns, args.token, record)
    except ServerError as error:
        print(f"openenv_client: the server refused: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"openenv_client: cannot reach {args.url}: {error}. Is `turngym serve --openenv` running?", file=sys.stderr)
        return 1
    finally:
        if record is not None:
            record.close()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
