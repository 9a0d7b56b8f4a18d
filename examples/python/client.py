"""Plays episodes on a turngym server with a random policy, over the WebSocket protocol v1.

    npx turngym serve &                       # ws://127.0.0.1:8765/v1
    python3 examples/python/client.py --env puzzle/guess-number-v0 --episodes 5

Needs the `websockets` package (pip install websockets, or Debian's python3-websockets). Prints one JSON
summary line. The client is deliberately small: one request at a time, matched to its reply by `id`.
See docs/protocol.md for every message.
"""
import argparse
import asyncio
import itertools
import json
import sys

import websockets

from random_policy import new_rng, random_action


class ProtocolError(Exception):
    """An `error` reply: code (e.g. UNKNOWN_ENV) and message."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


class Client:
    def __init__(self, socket):
        self.socket = socket
        self.ids = itertools.count(1)

    async def request(self, kind, **fields):
        """Sends {type, id, ...fields} and returns the reply with the same id."""
        request_id = next(self.ids)
        await self.socket.send(json.dumps({"type": kind, "id": request_id, **fields}))
        while True:
            reply = json.loads(await self.socket.recv())
            if reply.get("id") != request_id:
                continue  # not ours (this client sends one request at a time, so this does not happen)
            if reply["type"] == "error":
                raise ProtocolError(reply["code"], reply["message"])
            return reply


async def play(url, env_id, episodes, seed, token):
    rng = new_rng(seed)
    async with websockets.connect(url, max_size=2**26) as socket:
        client = Client(socket)
        hello = {"protocol": 1, "role": "agent"}
        if token:
            hello["token"] = token
        await client.request("hello", **hello)
        made = await client.request("make", env=env_id)
        session, tools = made["session"], made["spec"]["tools"]
        returns, steps, successes = [], 0, 0
        for episode in range(episodes):
            await client.request("reset", session=session, seed=seed + episode)
            total = 0.0
            while True:
                result = await client.request("step", session=session, action=random_action(tools, rng))
                steps += 1
                total += result["reward"]
                if result["terminated"] or result["truncated"]:
                    successes += 1 if result["info"].get("success") else 0
                    break
            returns.append(total)
        await client.request("close", session=session)
    return {
        "env": env_id,
        "episodes": episodes,
        "steps": steps,
        "successes": successes,
        "mean_return": sum(returns) / len(returns) if returns else 0.0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8765/v1")
    parser.add_argument("--env", default="puzzle/guess-number-v0")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    try:
        summary = asyncio.run(play(args.url, args.env, args.episodes, args.seed, args.token))
    except ProtocolError as error:
        print(f"client: the server refused: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"client: cannot reach {args.url}: {error}. Is `turngym serve` running?", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
