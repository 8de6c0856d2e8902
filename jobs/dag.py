"""A workflow's graph of steps, pure: validation (names, needs, cycles, limits), roots, sinks, order, and its stored form.

Steps are numbered in the order given; callbacks (on_success, on_failure,
on_complete) come after them. A step's parents are the steps it `needs`; a step
nobody needs is a sink. The workflow ends when every sink has ended: every step
is then final, because a step ends only once all its parents have (a step is
decided by its last parent's end). Callbacks have no parents in the graph: the
workflow's end releases them.
"""

import json
import re
import uuid
from dataclasses import dataclass, field

# Why 500: a step's final write reads the graph (every step's name and edges) from one
# DynamoDB item, which must stay under 400 KB (500 steps of 64-character names with
# MAX_EDGES edges is ~60 KB); a submission writes every step (20 BatchWriteItems of 25 for
# 500) and a cancel or a retry walks every step, which keeps either under seconds.
MAX_STEPS = 500
# Each edge costs one write when its parent ends (the child's counter, in the parent's
# transaction): the bound on edges is the bound on that cost and on the graph item.
MAX_EDGES = 5000
STEP_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$")
CALLBACKS = ("on_success", "on_failure", "on_complete")
POLICIES = ("fail", "continue")
STEP = "step"


def step_job_id(workflow_id: str, index: int) -> str:
    """The job id of step `index` of a workflow: derived (uuid5), so a step is found, and written again, without a lookup."""
    return str(uuid.uuid5(uuid.UUID(workflow_id), f"step/{index}"))


class DagError(Exception):
    """A definition that is not a workflow: `errors` maps each field (`steps.<name>.needs`) to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Step:
    """One node: its name and number, the numbers of its parents and children, what it does when a parent fails."""

    name: str
    index: int
    parents: tuple[int, ...] = ()
    children: tuple[int, ...] = ()
    on_parent_failure: str = "fail"
    role: str = STEP  # "step", or the callback it is ("on_success", ...)
    # What publishing it needs without reading it: its type, priority, key, and its chunks (0: a payload job).
    type: str = ""
    priority: str = "normal"
    key: str | None = None
    chunks: int = 0

    @property
    def is_callback(self) -> bool:
        return self.role != STEP


@dataclass(frozen=True)
class Graph:
    steps: tuple[Step, ...]
    owner: str = ""  # who submitted it: its steps' owner, what their flow hints name
    _by_name: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self._by_name.update({s.name: s for s in self.steps})

    def step(self, name: str) -> Step:
        return self._by_name[name]

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def regular(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if not s.is_callback)

    @property
    def callbacks(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.is_callback)

    @property
    def roots(self) -> tuple[int, ...]:
        return tuple(s.index for s in self.regular if not s.parents)

    @property
    def sinks(self) -> tuple[int, ...]:
        return tuple(s.index for s in self.regular if not s.children)

    @property
    def edges(self) -> list[tuple[int, int]]:
        return [(p, s.index) for s in self.steps for p in s.parents]

    def descendants(self, indices) -> set[int]:
        """The steps below `indices`, and those steps themselves."""
        seen, todo = set(indices), list(indices)
        while todo:
            for child in self.steps[todo.pop()].children:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    def topological(self, indices=None) -> list[int]:
        """`indices` (default: every regular step) parents first (Kahn's order, ties by number)."""
        wanted = set(s.index for s in self.regular) if indices is None else set(indices)
        pending = {i: sum(1 for p in self.steps[i].parents if p in wanted) for i in wanted}
        ready = sorted(i for i, n in pending.items() if n == 0)
        order = []
        while ready:
            i = ready.pop(0)
            order.append(i)
            for child in self.steps[i].children:
                if child in pending:
                    pending[child] -= 1
                    if pending[child] == 0:
                        ready.append(child)
            ready.sort()
        return order

    def dumps(self) -> str:
        """The stored form: compact JSON, children derived again on load."""
        return json.dumps({"v": 1, "owner": self.owner, "steps": [
            [s.name, list(s.parents), s.on_parent_failure, s.role, s.type, s.priority, s.key, s.chunks] for s in self.steps
        ]}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> "Graph":
        data = json.loads(text)
        rows = data["steps"]
        children: dict[int, list[int]] = {i: [] for i in range(len(rows))}
        for index, row in enumerate(rows):
            for parent in row[1]:
                children[parent].append(index)
        return cls(tuple(
            Step(name=r[0], index=i, parents=tuple(r[1]), children=tuple(children[i]), on_parent_failure=r[2], role=r[3],
                 type=r[4], priority=r[5], key=r[6], chunks=r[7])
            for i, r in enumerate(rows)
        ), owner=data.get("owner", ""))


@dataclass(frozen=True)
class StepSpec:
    """What the graph needs of a step's definition (its job's own fields are checked elsewhere)."""

    name: str
    needs: tuple = ()
    on_parent_failure: str = "fail"
    role: str = STEP
    type: str = ""
    priority: str = "normal"
    key: str | None = None
    chunks: int = 0


def dag_build(specs: list[StepSpec], *, owner: str = "") -> Graph:
    """The graph of `specs` (regular steps first, then callbacks), or DagError listing every problem.

    Problems: no step, more than MAX_STEPS or MAX_EDGES, a name that is not a slug
    (letters, digits, `-` and `_`, at most 64) or is a callback's, `needs` that is
    not a list of names, names an unknown step, itself or a callback, and cycles
    (each named by its steps, in order).
    """
    errors: dict[str, list[str]] = {}
    regular = [s for s in specs if s.role == STEP]
    if not regular:
        errors["steps"] = ["Give at least one step."]
    elif len(regular) > MAX_STEPS:
        errors["steps"] = [f"At most {MAX_STEPS} steps (this workflow has {len(regular)}): each step's end reads the whole"
                           " graph from one DynamoDB item (400 KB at most), and a cancel or a retry walks every step."]
    names = {s.name for s in regular}
    for spec in regular:
        if not isinstance(spec.name, str) or not STEP_NAME.match(spec.name):
            errors[f"steps.{spec.name}"] = ["A step's name is a slug: 1 to 64 letters, digits, '-' or '_', starting and"
                                            " ending with a letter or a digit."]
        elif spec.name in CALLBACKS:
            errors[f"steps.{spec.name}"] = [f"{spec.name!r} is a callback's name: give it as a top-level field."]
        if spec.on_parent_failure not in POLICIES:
            errors[f"steps.{spec.name}.on_parent_failure"] = [f"One of {', '.join(POLICIES)}."]
        problems = _needs_problems(spec, names)
        if problems:
            errors[f"steps.{spec.name}.needs"] = problems
    edges = sum(len(set(s.needs)) for s in regular if isinstance(s.needs, (list, tuple)))
    if edges > MAX_EDGES:
        errors.setdefault("steps", []).append(
            f"At most {MAX_EDGES} edges in all (this workflow has {edges}): each costs a write when its parent ends.")
    if errors:
        raise DagError(errors)
    index = {s.name: i for i, s in enumerate(regular)}
    ordered = regular + [s for s in specs if s.role != STEP]
    graph = _graph(ordered, index, owner)
    cycle = find_cycle(graph)
    if cycle:
        names_on = [graph.steps[i].name for i in cycle]
        raise DagError({f"steps.{names_on[0]}.needs": [
            f"The steps {' → '.join(names_on + [names_on[0]])} form a cycle (each needs the next): none of them could"
            " ever start."]})
    return graph


def _needs_problems(spec: StepSpec, names: set) -> list[str]:
    if not isinstance(spec.needs, (list, tuple)) or not all(isinstance(n, str) for n in spec.needs):
        return ["A list of step names."]
    problems = []
    unknown = [n for n in spec.needs if n not in names]
    if unknown:
        problems.append(f"Unknown steps: {', '.join(repr(n) for n in unknown[:10])}" + (" …" if len(unknown) > 10 else "") + ".")
    if spec.name in spec.needs:
        problems.append("A step cannot need itself.")
    return problems


def _graph(specs: list[StepSpec], index: dict[str, int], owner: str) -> Graph:
    parents = [tuple(sorted({index[n] for n in s.needs})) for s in specs]
    children: dict[int, list[int]] = {i: [] for i in range(len(specs))}
    for i, ps in enumerate(parents):
        for p in ps:
            children[p].append(i)
    return Graph(tuple(
        Step(name=s.name, index=i, parents=parents[i], children=tuple(children[i]), on_parent_failure=s.on_parent_failure,
             role=s.role, type=s.type, priority=s.priority, key=s.key, chunks=s.chunks)
        for i, s in enumerate(specs)
    ), owner=owner)


def find_cycle(graph: Graph) -> list[int]:
    """The steps of one cycle, each needing the next (empty when there is none): iterative depth-first search."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = [WHITE] * len(graph.steps)
    for start in range(len(graph.steps)):
        if colour[start] != WHITE:
            continue
        path, stack = [], [(start, iter(graph.steps[start].parents))]
        colour[start] = GREY
        path.append(start)
        while stack:
            node, children = stack[-1]
            nxt = next(children, None)
            if nxt is None:
                colour[node] = BLACK
                stack.pop()
                path.pop()
            elif colour[nxt] == GREY:
                return path[path.index(nxt):]
            elif colour[nxt] == WHITE:
                colour[nxt] = GREY
                path.append(nxt)
                stack.append((nxt, iter(graph.steps[nxt].parents)))
    return []
