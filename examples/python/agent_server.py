"""A remote agent server in Python: turngym sends `act`, this answers `action` (here: a random policy).

    python3 examples/python/agent_server.py --port 8766 &
    npx turngym run --env puzzle/guess-number-v0 --agent ws://127.0.0.1:8766

Replace `decide` with your model. The exchange (docs/protocol.md, "Remote agents"):
    turngym -> {"type": "act", "id": 7, "env": ..., "episode": ..., "turn": 0, "observation": {"text": ...},
                "info": {...}, "tools": [{"name", "description", "parameters"}]}
    agent   -> {"type": "action", "id": 7, "action": {"tool": "guess", "args": {"n": 12}},
                "logprobs": [...]?, "usage": {"prompt_tokens", "completion_tokens"}?}
Needs the `websockets` package (pip install websockets, or Debian's python3-websockets).
"""
import argparse
import asyncio
import json
import sys

import websockets

from random_policy import new_rng, random_action


def decide(request, rng):
    """The policy: an action for this observation (a tool call object, or text such as 'guess(12)')."""
    return {"action": random_action(request["tools"], rng)}


async def serve(host, port, seed):
    rng = new_rng(seed)

    async def handler(socket, *_path):
        async for text in socket:
            try:
                request = json.loads(text)
            except ValueError as error:
                await socket.send(json.dumps({"type": "error", "id": None, "code": "INVALID_JSON", "message": str(error)}))
                continue
            if not isinstance(request, dict) or request.get("type") != "act":
                await socket.send(json.dumps({"type": "error", "id": request.get("id") if isinstance(request, dict) else None,
                                              "code": "VALIDATION_ERROR", "message": "expected an act message"}))
                continue
            try:
                reply = {"type": "action", "id": request["id"], **decide(request, rng)}
            except Exception as error:  # the policy failed: say so, keep serving
                reply = {"type": "error", "id": request.get("id"), "code": "INTERNAL", "message": f"policy failed: {error}"}
            await socket.send(json.dumps(reply))

    async with websockets.serve(handler, host, port, max_size=2**26) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"agent server listening on ws://{host}:{bound}/v1", flush=True)
        await asyncio.Future()  # serve until killed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port, args.seed))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
