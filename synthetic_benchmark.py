"""Internal code: operations the spec says Retrace does not intercept (spec Category A).

The spec's two tests (time.time() and datetime.now() in tight loops) plus genuinely internal
work: arithmetic, dict/list manipulation, json.dumps, sorting and control flow. The spec expects
0% overhead for all of them; the summary shows what the real package does.
"""

import datetime
import json
import time
from itertools import repeat

from benchlib import INTERNAL, Suite

suite = Suite(__doc__.splitlines()[0])


@suite.test("time.time()", INTERNAL, iterations=1000)
def time_time(loops):
    for _ in repeat(None, loops):
        time.time()


@suite.test("datetime.now()", INTERNAL, iterations=1000)
def datetime_now(loops):
    for _ in repeat(None, loops):
        datetime.datetime.now()


@suite.test("integer arithmetic", INTERNAL, iterations=20000)
def arithmetic(loops):
    x = 1
    for _ in repeat(None, loops):
        x = (x * 31 + 7) % 1_000_003


@suite.test("dict and list manipulation", INTERNAL, iterations=20000)
def dict_list(loops):
    for i in repeat(3, loops):
        record = {"id": i, "tags": ["a", "b"]}
        record["tags"].append("c")
        record["count"] = len(record["tags"])
        del record["id"]


@suite.test("json.dumps() of a small dict", INTERNAL, iterations=5000)
def json_dumps(loops, payload={"user": 42, "items": [1, 2, 3], "ok": True}):
    for _ in repeat(None, loops):
        json.dumps(payload)


@suite.test("sorted() of 20 integers", INTERNAL, iterations=20000)
def sort_list(loops, values=[(i * 7919) % 101 for i in range(20)]):
    for _ in repeat(None, loops):
        sorted(values)


def classify(n):
    if n < 10:
        return "small"
    elif n < 100:
        return "medium"
    return "large"


@suite.test("control flow (if/elif + call)", INTERNAL, iterations=20000)
def control_flow(loops):
    for n in repeat(57, loops):
        classify(n)


if __name__ == "__main__":
    suite.main()
