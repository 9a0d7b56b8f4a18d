"""A random policy over tools described by JSON Schema (as turngym sends them): pick a tool, sample its arguments."""
import random


def sample(schema, rng, depth=0):
    """A random value that fits a (simple) JSON Schema."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "const" in schema:
        return schema["const"]
    if kind == "integer" or kind == "number":
        # zod writes the safe-integer range for plain integers; a random policy does better near zero.
        low = schema.get("minimum", 0)
        low = 0 if low < -1_000_000 else low
        high = min(schema.get("maximum", low + 100), low + 100)
        return rng.randint(int(low), int(high))
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [] if depth > 2 else [sample(schema.get("items", {}), rng, depth + 1)]
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: sample(value, rng, depth + 1) for key, value in properties.items()}
    return rng.choice(["a", "the", "city", "42", "river", "blue"])


def random_action(tools, rng):
    """A tool call {"tool", "args"} with a random tool and random arguments."""
    tool = rng.choice(tools)
    return {"tool": tool["name"], "args": sample(tool["parameters"], rng)}


def new_rng(seed):
    return random.Random(seed)
