"""One probable cause on top (issue 9, part 3): the chain trigger → mechanism → symptoms (and what amplified
them), the findings that support it, what was ruled out, and how sure.

The chain is built from the evidence, not from a scenario:
- a revision to blame (the rollback decision implicated it) triggers what its change does: disks full of
  a bigger image, containers that exit, an image that cannot be pulled;
- node trouble the revision did not cause is triggered by the workload that dominates the nodes
  (`noisy-neighbour`, or the consumer `node-disk-high` attributes the disk to), else the trigger is unknown
  and the cause says what could not be seen;
- a healthy service says so.
When none of these fits, the cause says there is no single cause and lists the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.domain import CauseLink, Confidence, Finding, ProbableCause, RollbackDecision
from bot.reasoning.evidence import NODE_SYMPTOMS, Implication, blast, counts, every, first, growth_ratio, on_service, when
from bot.units import human_bytes, plural

OWN_RULES = ("crashloop", "image-pull-failing", "pods-not-ready")
# Registry errors (bot.checks.pulls) that say nothing answered, rather than that it answered with an error.
UNREACHABLE = ("connection refused", "connection reset", "timeout", "DNS")


def probable_cause(findings: Sequence[Finding], decision: RollbackDecision, *, where: str) -> ProbableCause:
    symptoms = [f for f in findings if on_service(f)]
    if decision.implicated_by:
        return _from_revision(findings, decision)
    if any(f.rule in NODE_SYMPTOMS or f.rule == "evictions" for f in symptoms):
        return _from_nodes(findings, decision)
    if (registry := blast(findings, "registry")) is not None:
        return _from_registry(registry, findings, decision)
    if any(f.rule in OWN_RULES for f in symptoms):
        return _own_failures(findings, decision)
    if not symptoms and (hpa := _hpa_at_max(findings)) is not None:
        return _load_beyond_max(hpa, decision)
    if not symptoms:
        elsewhere = sorted({str(f.evidence.get("node")) for f in findings if f.rule in NODE_SYMPTOMS})
        ruled_out = _ruled_out_revision(decision) + (
            (f"node trouble elsewhere ({', '.join(elsewhere[:3])}): none of its pods runs there",) if elsewhere else ())
        return ProbableCause(
            summary=f"no fault found in {where}: its pods are ready and its nodes are healthy",
            chain=(), supporting=(), ruled_out=ruled_out, confidence=Confidence.HIGH,
        )
    return _undecided(symptoms, decision)


# --- a revision to blame ----------------------------------------------------------------------------


def _from_revision(findings: Sequence[Finding], decision: RollbackDecision) -> ProbableCause:
    fact = first(findings, "rollback-candidate")
    imp = (fact.evidence.get("implication") if fact is not None else None) or {}
    rev = imp.get("current_revision", "?")
    growth = first(findings, "image-size-regression") if "image-size-regression" in decision.implicated_by else None
    if growth is not None:
        ev = growth.evidence
        size = ev.get("current_size_bytes")
        trigger = (f"revision {rev} (image {human_bytes(size) if isinstance(size, int) else '?'}, "
                   f"{growth_ratio(ev)}× revision {ev.get('previous_revision')})")
    else:
        changed = [str(c.get("detail") or c.get("what")) for c in imp.get("changes") or () if isinstance(c, dict)]
        # A run of bad revisions is one trigger: what they changed against the last good one.
        between = [r for r in imp.get("failed_between") or () if isinstance(r, int)]
        revs = f"revisions {', '.join(map(str, between))} and {rev}" if between else f"revision {rev}"
        trigger = revs + (f" ({'; '.join(changed[:2])})" if changed else "")
    chain = [CauseLink("trigger", trigger, decision.implicated_by)]
    if growth is not None:
        chain += _disk_links(findings)
    if "noisy-neighbour" in decision.implicated_by:
        chain += _node_mechanism(findings)
    if "crashloop" in decision.implicated_by and (crash := first(findings, "crashloop")) is not None:
        chain.append(CauseLink("mechanism", _exits(crash), ("crashloop",)))
    if growth is None and "image-pull-failing" in decision.implicated_by and (pull := first(findings, "image-pull-failing")) is not None:
        chain.append(CauseLink("mechanism", _pull_failure(pull), ("image-pull-failing",)))
    # Its pods never ran: who holds them back says why (the scheduler, the kubelet).
    never_ran = bool({"fits-no-node", "config-error"} & set(counts(imp.get("own_failures"))))
    ready = first(findings, "pods-not-ready") if "pods-not-ready" in decision.implicated_by else None
    if never_ran and ready is not None and (held := _held_back(ready)) is not None:
        chain.append(CauseLink("mechanism", held, ("pods-not-ready",)))
    # A change that fails its own pods (not its image's size, not its own resources crowding the nodes)
    # does not put nodes under pressure: node trouble beside it is a second, unrelated problem, told apart.
    aside = _beside_the_revision(findings) \
        if not {"image-size-regression", "noisy-neighbour"} & set(decision.implicated_by) else []
    skip = {link_rule for link in chain for link_rule in link.rules} | ({"evictions"} if aside else set())
    chain += _symptoms(findings, skip=skip)
    if (halted := first(findings, "rollout-stuck")) is not None:
        chain.append(CauseLink("symptom", f"{_halted(halted)}, {_serving(halted)}", ("rollout-stuck",)))
    chain += _amplifiers(findings) + aside
    ruled_out = []
    if not any(first(findings, r) for r in ("node-pressure", "node-not-ready", "node-disk-high")):
        ruled_out.append("the nodes: none is under pressure or NotReady")
    own = counts(imp.get("own_failures"))
    explained = imp.get("explained_by") or {}
    strong = (bool(own) and any(explained.get(k) for k in own)) or (growth is not None and len(chain) >= 4)
    return _cause(chain, ruled_out, Confidence.HIGH if strong else Confidence.MEDIUM)


def _exits(crash: Finding) -> str:
    reasons = counts(crash.evidence.get("last_terminated_reasons"))
    reason = max(reasons, key=lambda r: reasons[r]) if reasons else "an error"
    codes = counts(crash.evidence.get("last_exit_codes"))
    code = f", status {max(codes, key=lambda c: codes[c])}" if codes else ""
    # The container's termination message says why; the waiting one ("back-off 5m0s restarting failed
    # container") says nothing about it.
    if kills := crash.evidence.get("liveness_kills"):
        # The kubelet restarted them: the probe, not the process, decided.
        said = crash.evidence.get("liveness_message")
        text = f"the kubelet kills the containers on failed liveness probes ({kills}×)"
        return f"{text}: {_tail(str(said))}" if said else text
    text = f"containers exit ({reason}{code})"
    nodes = ", ".join(str(p) for p in crash.evidence.get("node_platforms") or ()) or "unknown"
    if platform := crash.evidence.get("image_platform"):
        # The exit status says nothing of why; the image's platform against the nodes' does.
        return f"{text}: the image is {platform}, the nodes are {nodes}"
    if crash.evidence.get("exec_format_error"):
        return (f"{text}: exec format error: the binary is built for another CPU architecture than the nodes "
                f"({nodes}), or is a script without a #! line")
    message = crash.evidence.get("exit_message") or crash.evidence.get("message")
    return f"{text}: {_tail(_reason_line(str(message)))}" if message and "back-off" not in str(message).lower() else text


_ERROR_LINE = re.compile(r"panic|fatal|error|exception", re.IGNORECASE)


def _reason_line(message: str) -> str:
    """The line of a multi-line termination message that says why: a Go panic's first line, a Python
    traceback's last, a Java "Caused by": the last line naming an error. One line stays as it is."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return message
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return errors[-1] if errors else lines[-1]


# Waiting reasons that mean the kubelet could not create or start the container from its spec.
CANNOT_CREATE = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")


def _held_back(ready: Finding) -> str | None:
    """Why pods that are not ready never ran, in the words of who holds them back: the scheduler
    ("0/4 nodes are available: 4 Insufficient cpu") or the kubelet ("couldn't find key ... in Secret ...")."""
    if said := ready.evidence.get("scheduler_message"):
        # What it could not do, not the preemption it then tried: "0/5 nodes are available: ... cpu."
        placing = str(said).split(" preemption:", 1)[0]
        claims = ready.evidence.get("claims")
        if isinstance(claims, list) and claims:  # the volumes that pin the pods, which the scheduler does not name
            placing = f"{placing.rstrip('.')} (PersistentVolumeClaim {', '.join(map(str, claims))})"
        return f"the scheduler cannot place them: {placing}"
    reasons = counts(ready.evidence.get("reasons"))
    top = max(reasons, key=lambda r: reasons[r]) if reasons else None
    if top in CANNOT_CREATE and (message := ready.evidence.get("waiting_message")):
        return f"the kubelet cannot create the containers ({top}): {_tail(str(message))}"
    if (message := ready.evidence.get("kubelet_message")) and (nodes := ready.evidence.get("kubelet_nodes")):
        where = f"node {nodes[0]}" if len(nodes) == 1 else f"nodes {', '.join(map(str, nodes[:3]))}"
        return f"the kubelet cannot start them on {where} ({ready.evidence.get('kubelet_reason')}): {_tail(str(message))}"
    return None


def _pull_failure(pull: Finding) -> str:
    """The runtime's error ends with the reason: "...: registry/app:2.5.O: not found" -> "not found"."""
    if missing := pull.evidence.get("missing_platform"):
        return f"the image cannot be pulled: it has no {missing} variant"
    message = pull.evidence.get("message")
    if not message:
        return "the image cannot be pulled"
    return f"the image cannot be pulled ({_short(str(message).rstrip().rsplit(': ', 1)[-1], 60)})"


def _disk_links(findings: Sequence[Finding]) -> list[CauseLink]:
    links = []
    # Only disks that images are seen to fill; a DiskPressure whose filler cannot be seen stays a condition.
    disks = [f for f in every(findings, "node-disk-high") if f.evidence.get("attribution") == "images"]
    if disks:
        filesystems = sorted({str(f.evidence.get("filesystem") or "disk") for f in disks})
        links.append(CauseLink("mechanism", f"{len(disks)} nodes' {'/'.join(filesystems)} full", ("node-disk-high",)))
    conditions = sorted({str(f.evidence.get("condition")) for f in every(findings, "node-pressure") if f.evidence.get("condition")})
    rules = ["node-pressure"] if conditions else []
    if first(findings, "node-not-ready") is not None:
        conditions.append("NotReady")
        rules.append("node-not-ready")
    if conditions:
        links.append(CauseLink("mechanism", "/".join(conditions), tuple(rules)))
    return links


def _symptoms(findings: Sequence[Finding], *, skip: set[str]) -> list[CauseLink]:
    links = []
    if "crashloop" not in skip and (crash := first(findings, "crashloop")) is not None:
        links.append(CauseLink("symptom", f"{len(crash.evidence.get('pods') or ())} pods crash-looping", ("crashloop",)))
    if (ready := first(findings, "pods-not-ready")) is not None:
        reasons = counts(ready.evidence.get("reasons"))
        top = max(reasons, key=lambda r: reasons[r]) if reasons else "not ready"
        links.append(CauseLink("symptom", f"{ready.evidence.get('count')} of {ready.evidence.get('pods_total')} "
                                          f"pods not ready (mostly {top})", ("pods-not-ready",)))
    if "evictions" not in skip and (evicted := first(findings, "evictions")) is not None:
        links.append(CauseLink("symptom", f"{plural(int(evicted.evidence.get('count') or 0), 'pod')} evicted",
                               ("evictions",)))
    return links


def _beside_the_revision(findings: Sequence[Finding]) -> list[CauseLink]:
    """Pressure on the service's nodes, and the evictions it caused, when the revision's change cannot
    explain it: a contributing factor of its own ("separately, batch/etl (Job), no memory limit, 27 GB
    memory on o-3: MemoryPressure on node o-3, 1 pod evicted"), naming the neighbour when one is found."""
    pressure = [f for f in every(findings, "node-pressure") if f.evidence.get("hosts_service") is True]
    evicted = first(findings, "evictions")
    if not pressure:
        return []
    culprit = first(findings, "noisy-neighbour")
    culprit = culprit if culprit is not None and not culprit.evidence.get("is_service") else None
    by_condition: dict[str, list[str]] = {}
    for f in pressure:
        by_condition.setdefault(str(f.evidence.get("condition")), []).append(str(f.evidence.get("node")))
    where = "; ".join(f"{c} on {'node' if len(n) == 1 else 'nodes'} {', '.join(sorted(n)[:3])}"
                      for c, n in sorted(by_condition.items()))
    text = "separately, " + (f"{culprit.evidence.get('summary') or culprit.title}: " if culprit else "") + where
    rules = (("noisy-neighbour",) if culprit else ()) + ("node-pressure",)
    if evicted is not None:
        text += f", {plural(int(evicted.evidence.get('count') or 0), 'pod')} evicted"
        rules += ("evictions",)
    return [CauseLink("amplifier", text, rules)]


def _amplifiers(findings: Sequence[Finding]) -> list[CauseLink]:
    links = []
    pressure = first(findings, "pull-pressure")
    if pressure is not None and isinstance(pressure.evidence.get("bytes"), int):
        who = "HPA" if first(findings, "hpa-scaling") is not None else "new pods"
        links.append(CauseLink("amplifier", f"{who} pulls {human_bytes(pressure.evidence['bytes'])}",
                               ("pull-pressure",) + (("hpa-scaling",) if who == "HPA" else ())))
    if (registry := first(findings, "registry-errors")) is not None:
        errors = counts(registry.evidence.get("errors"))
        kinds = ", ".join(sorted(errors, key=lambda k: -errors[k])[:2]) or "errors"
        links.append(CauseLink("symptom", f"registry {kinds}", ("registry-errors",)))
    return links


# --- node trouble the revision did not cause --------------------------------------------------------


def _from_nodes(findings: Sequence[Finding], decision: RollbackDecision) -> ProbableCause:
    chain: list[CauseLink] = []
    confidence = Confidence.LOW
    culprit = first(findings, "noisy-neighbour")
    fill = _disk_filler(findings)
    if fill is not None:
        # What fills the disk (logs, emptyDir...) says more than "no ephemeral-storage limit".
        on_disk = culprit is not None and culprit.evidence.get("resource") == "ephemeral-storage"
        chain.append(CauseLink("trigger", fill, ("node-disk-high",) + (("noisy-neighbour",) if on_disk else ())))
        confidence = Confidence.HIGH
    elif culprit is not None:
        chain.append(CauseLink("trigger", str(culprit.evidence.get("summary") or culprit.title), ("noisy-neighbour",)))
        confidence = Confidence.HIGH if culprit.evidence.get("source") == "kubelet summary API" else Confidence.MEDIUM
    chain += _node_mechanism(findings)
    chain += _symptoms(findings, skip=set())
    if (radius := blast(findings, "nodes")) is not None and radius.evidence.get("other_pods"):
        ev = radius.evidence
        chain.append(CauseLink("symptom", f"{plural(int(ev['other_pods']), 'pod')} of "
                                          f"{plural(int(ev.get('other_workloads') or 0), 'other workload')} hit too",
                               ("blast-radius",)))
    down = _down_nodes(findings)
    if not any(link.role == "trigger" for link in chain) and down and not every(findings, "node-pressure"):
        # No pressure on the nodes: nothing consumed them. They stopped answering, or their kubelet says
        # what broke under it (the runtime, the network plugin).
        chain.insert(0, CauseLink("trigger", down, ("node-not-ready",)))
        return _cause(chain, _ruled_out_revision(decision), Confidence.MEDIUM)
    if not any(link.role == "trigger" for link in chain):
        unseen = next((str(f.evidence["unseen"]) for f in findings if f.evidence.get("unseen")), None)
        text = "unknown consumer" + (f" (cannot see {unseen})" if unseen else "")
        chain.insert(0, CauseLink("trigger", text, ()))
        candidates = tuple(f.title for f in every(findings, "node-disk-high")[:3])
        return _cause(chain, _ruled_out_revision(decision), confidence, candidates)
    return _cause(chain, _ruled_out_revision(decision), confidence)


def _down_nodes(findings: Sequence[Finding]) -> str | None:
    """What took the NotReady nodes hosting the service down, as far as they tell: a kubelet that stopped
    posting status (Ready=Unknown), else the reason the kubelet posts ("container runtime is down")."""
    not_ready = _hosting(every(findings, "node-not-ready"))
    lost = sorted(str(f.evidence.get("node")) for f in not_ready if f.evidence.get("ready") == "Unknown")
    if lost:
        return f"{'node ' if len(lost) == 1 else 'nodes '}{', '.join(lost[:3])} stopped reporting (kubelet or node down)"
    said: dict[str, list[str]] = {}
    for f in not_ready:
        if f.evidence.get("message"):
            said.setdefault(_first_clause(str(f.evidence["message"])), []).append(str(f.evidence.get("node")))
    if not said:
        return None
    reason, nodes = max(said.items(), key=lambda item: len(item[1]))
    names = sorted(nodes)
    return f"{reason} on {'node' if len(names) == 1 else 'nodes'} {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"


def _first_clause(message: str) -> str:
    """"[container runtime is down, PLEG is not healthy: ...]" -> "container runtime is down": the kubelet
    lists its errors, the first is what broke."""
    text = message.strip().lstrip("[").rstrip("]")
    for sep in (", ", ": "):
        text = text.split(sep, 1)[0]
    return _short(text, 80)


def _disk_filler(findings: Sequence[Finding]) -> str | None:
    """"container logs of batch/log-shipper (Deployment), 61 GB": what node-disk-high says fills the disk."""
    for f in every(findings, "node-disk-high"):
        blamed, top = f.evidence.get("attribution"), f.evidence.get("top_consumers") or []
        if blamed == "images":
            return f"images on {f.evidence.get('filesystem')} ({human_bytes(int(f.evidence.get('images_total_bytes') or 0))})"
        if blamed and top and isinstance(top[0], dict):
            what = {"logs": "container logs", "emptyDir": "emptyDir volumes"}.get(str(blamed), str(blamed))
            return f"{what} of {top[0].get('workload')} ({top[0].get('kind')}), {human_bytes(int(top[0].get('bytes') or 0))}"
    return None


def _hosting(found: list[Finding]) -> list[Finding]:
    """The node findings about the service's nodes, when there are any; else all of them."""
    mine = [f for f in found if f.evidence.get("hosts_service") is True]
    return mine or found


def _node_mechanism(findings: Sequence[Finding]) -> list[CauseLink]:
    links = []
    disks = [f for f in _hosting(every(findings, "node-disk-high")) if "node" in f.evidence]
    measured = [f for f in disks if isinstance(f.evidence.get("used_percent"), int | float)]
    if measured:
        worst = max(measured, key=lambda f: float(f.evidence["used_percent"]))
        links.append(CauseLink("mechanism", f"{worst.evidence.get('filesystem')} {worst.evidence['used_percent']:g}% "
                                            f"used on {plural(len(disks), 'node')}", ("node-disk-high",)))
    by_condition: dict[str, set[str]] = {}
    for f in _hosting(every(findings, "node-pressure")):
        by_condition.setdefault(str(f.evidence.get("condition")), set()).add(str(f.evidence.get("node")))
    for condition, nodes in sorted(by_condition.items()):
        links.append(CauseLink("mechanism", f"{condition} on {plural(len(nodes), 'node')}", ("node-pressure",)))
    not_ready = {str(f.evidence.get("node")) for f in _hosting(every(findings, "node-not-ready"))}
    if not_ready:
        links.append(CauseLink("mechanism", f"{plural(len(not_ready), 'node')} NotReady", ("node-not-ready",)))
    return links


# --- a registry that fails or refuses the pulls ------------------------------------------------------


def _from_registry(registry: Finding, findings: Sequence[Finding], decision: RollbackDecision) -> ProbableCause:
    """The registry is down, failing, or refusing the credentials: the trigger is outside the cluster, the
    service's pulls are its mechanism, and other workloads' pulls failing the same way confirm it."""
    ev = registry.evidence
    hosts = ", ".join(str(h) for h in ev.get("registries") or ()) or "the registry"
    errors = counts(ev.get("errors"))
    said = ", ".join(sorted(errors, key=lambda e: -errors[e])[:2]) or "errors"
    auth = any(k in ("401 Unauthorized", "403 Forbidden") for k in errors)
    top = max(errors, key=lambda e: errors[e]) if errors else ""
    if auth:
        trigger = f"{hosts} refuses the pull credentials ({said})"
    elif top in UNREACHABLE:
        trigger = f"{hosts} is unreachable ({said})"
    else:
        trigger = f"{hosts} fails pulls ({said})"
    rules = ("blast-radius",) + (("registry-errors",) if first(findings, "registry-errors") is not None else ())
    chain = [CauseLink("trigger", trigger, rules)]
    if (pull := first(findings, "image-pull-failing")) is not None:
        chain.append(CauseLink("mechanism", _pull_failure(pull), ("image-pull-failing",)))
    chain += _symptoms(findings, skip=set())
    others = int(ev.get("other_pods") or 0)
    if others:
        chain.append(CauseLink("symptom", f"{plural(others, 'pod')} of "
                                          f"{plural(int(ev.get('other_workloads') or 0), 'other workload')} "
                                          "fail the same pulls", ("blast-radius",)))
    # Other workloads failing on the same registry make it the registry's; alone, the service's own secret
    # or image may still be at fault.
    confidence = Confidence.HIGH if others else (Confidence.MEDIUM if errors else Confidence.LOW)
    return _cause(chain, _ruled_out_revision(decision), confidence)


# --- the service's own failures, not from its rollout ---------------------------------------------


def _own_failures(findings: Sequence[Finding], decision: RollbackDecision) -> ProbableCause:
    """The service's pods fail by themselves, but not from its rollout: the chain says how they fail (the
    mechanism); what changed is known only when the HPA at its maximum says the load outgrew the limit."""
    mechanism: list[CauseLink] = []
    if (crash := first(findings, "crashloop")) is not None:
        mechanism.append(CauseLink("mechanism", _exits(crash), ("crashloop",)))
    elif (pull := first(findings, "image-pull-failing")) is not None:
        mechanism.append(CauseLink("mechanism", _pull_failure(pull), ("image-pull-failing",)))
    elif (ready := first(findings, "pods-not-ready")) is not None and (held := _held_back(ready)) is not None:
        # Nothing fails inside the pods: they are not placed (a taint, a shortage) or not created.
        mechanism.append(CauseLink("mechanism", held, ("pods-not-ready",)))
    chain = mechanism + _symptoms(findings, skip={"crashloop"} if mechanism and crash is not None else set())
    halted = first(findings, "rollout-stuck")
    slots = next((f for f in every(findings, "noisy-neighbour")
                  if f.evidence.get("resource") == "pods" and not f.evidence.get("is_service")), None)
    if slots is not None and mechanism:
        # The scheduler finds no pod slot ("Too many pods") and the pod list says who holds the slots:
        # counted, not suspected.
        chain.insert(0, CauseLink("trigger", str(slots.evidence.get("summary") or slots.title), ("noisy-neighbour",)))
        if halted is not None:
            chain.append(CauseLink("symptom", f"{_halted(halted)}, {_serving(halted)}", ("rollout-stuck",)))
        return _cause(chain, _ruled_out_revision(decision), Confidence.HIGH)
    cordoned = _cordoned_in_the_way(findings)
    if cordoned is not None:
        # The scheduler names cordoned nodes among those it could not use. One chain, one trigger: a cordon
        # that came after the rollout began (or whose date the events no longer tell) took the capacity
        # out of service, and the stuck rollout is what it left behind (a symptom). A cordon older than
        # the rollout was a standing shortage: the rollout asked for room that was no longer there, so it
        # is the trigger and the cordon a contributing factor.
        older = halted is not None and _cordoned_before_rollout(findings)
        if halted is not None and older:
            chain.insert(0, CauseLink("trigger", _halted(halted), ("rollout-stuck",)))
            chain.append(CauseLink("symptom", _serving(halted), ("rollout-stuck",)))
            chain.append(CauseLink("amplifier", f"{cordoned.text} before the rollout began: the room its new pods "
                                                "needed was already out of service", cordoned.rules))
        else:
            chain.insert(0, cordoned)
            if halted is not None:
                chain.append(CauseLink("symptom", f"{_halted(halted)}, {_serving(halted)}", ("rollout-stuck",)))
        return _cause(chain, _ruled_out_revision(decision), Confidence.MEDIUM)
    if halted is not None:
        # The rollout waits on pods held back from outside it: it is what is stuck, and the old revision's
        # pods are what still serves.
        chain.insert(0, CauseLink("trigger", _halted(halted), ("rollout-stuck",)))
        chain.append(CauseLink("symptom", _serving(halted), ("rollout-stuck",)))
    hpa = _hpa_at_max(findings)
    if crash is not None and hpa is not None and "OOMKilled" in counts(crash.evidence.get("last_terminated_reasons")):
        chain.insert(0, CauseLink("trigger", f"load beyond the memory limit ({_hpa_text(hpa)})", ("hpa-scaling",)))
        return _cause(chain, _ruled_out_revision(decision), Confidence.MEDIUM)
    if halted is not None:
        return _cause(chain, _ruled_out_revision(decision), Confidence.MEDIUM)
    # What changed outside the rollout (a dependency, the data, a secret) is not seen: say so, list what was.
    chain.insert(0, CauseLink("trigger", decision.reason, ()))
    candidates = tuple(f.title for f in findings if f.rule in OWN_RULES)
    return _cause(chain, _ruled_out_revision(decision), Confidence.LOW, candidates)


def _halted(stuck: Finding) -> str:
    """"the rollout of revision 15, stuck since 2025-08-12 11:10 (ProgressDeadlineExceeded)"."""
    ev = stuck.evidence
    since = when(ev.get("since"))
    at = f" since {since:%Y-%m-%d %H:%M}" if since else ""
    if ev.get("paused"):
        return (f"the rollout of revision {ev.get('revision')}, paused{at} with {ev.get('new_pods')} of "
                f"{ev.get('desired')} pods updated")
    if ev.get("halted_at"):
        # A StatefulSet waits for each updated pod, highest ordinal first.
        return (f"the rollout of revision {ev.get('revision')}, stuck{at} at ordinal {ev.get('ordinal')} "
                f"({ev.get('halted_at')} not ready)")
    if ev.get("max_unavailable") is not None:
        return (f"the rollout of revision {ev.get('revision')}, stuck{at} with {ev.get('unavailable')} pods "
                f"unavailable (maxUnavailable {ev.get('max_unavailable')})")
    return f"the rollout of revision {ev.get('revision')}, stuck{at} (ProgressDeadlineExceeded)"


def _serving(stuck: Finding) -> str:
    old = [o for o in stuck.evidence.get("old") or () if isinstance(o, dict)]
    if not old:
        return "no older revision left serving"
    return "; ".join(f"revision {o.get('revision')} still serves {o.get('ready')} ready pods" for o in old)


def _cordoned_in_the_way(findings: Sequence[Finding]) -> CauseLink | None:
    """"nodes p-4, p-5 cordoned" when the scheduler's message counts unschedulable nodes among those it
    could not place the service's pods on, and the nodes check found them."""
    ready = first(findings, "pods-not-ready")
    said = str(ready.evidence.get("scheduler_message") or "") if ready is not None else ""
    if "were unschedulable" not in said and "was unschedulable" not in said:
        return None
    nodes = sorted(str(f.evidence.get("node")) for f in every(findings, "node-cordoned") if f.evidence.get("node"))
    if not nodes:
        return None
    listed = ", ".join(nodes[:3]) + (", ..." if len(nodes) > 3 else "")
    return CauseLink("trigger", f"{'node' if len(nodes) == 1 else 'nodes'} {listed} cordoned", ("node-cordoned",))


def _cordoned_before_rollout(findings: Sequence[Finding]) -> bool:
    """Whether every cordoned node is known to have been cordoned before the current revision rolled out."""
    imp = Implication.of(first(findings, "rollback-not-indicated") or first(findings, "rollback-candidate"))
    started = imp.rolled_out_at if imp is not None else None
    dates = [when(f.evidence.get("since")) for f in every(findings, "node-cordoned")]
    return started is not None and bool(dates) and all(d is not None and d < started for d in dates)


def _hpa_at_max(findings: Sequence[Finding]) -> Finding | None:
    return next((f for f in every(findings, "hpa-scaling") if f.evidence.get("at_max")), None)


def _hpa_text(hpa: Finding) -> str:
    return f"HPA at its maximum, {hpa.evidence.get('current_replicas')} of max {hpa.evidence.get('max_replicas')} replicas"


def _load_beyond_max(hpa: Finding, decision: RollbackDecision) -> ProbableCause:
    """Every pod ready and the nodes fine, but the HPA can add no more: the load outgrew maxReplicas."""
    chain = [CauseLink("trigger", f"load beyond what the HPA may add ({_hpa_text(hpa)})", ("hpa-scaling",)),
             CauseLink("symptom", "the pods that run are saturated (latency, errors)", ("hpa-scaling",))]
    return _cause(chain, _ruled_out_revision(decision), Confidence.MEDIUM)


def _undecided(serious: Sequence[Finding], decision: RollbackDecision) -> ProbableCause:
    titles = tuple(f"{f.title} ({f.rule})" for f in serious[:5])
    return ProbableCause(
        summary=f"no single cause stands out; candidates: {'; '.join(f.rule for f in serious[:5])}",
        chain=(), supporting=tuple(dict.fromkeys(f.rule for f in serious)), ruled_out=_ruled_out_revision(decision),
        confidence=Confidence.LOW, candidates=titles,
    )


# --- shared -----------------------------------------------------------------------------------------


def _cause(
    chain: list[CauseLink], ruled_out: Sequence[str], confidence: Confidence, candidates: tuple[str, ...] = ()
) -> ProbableCause:
    return ProbableCause(
        summary=_summary(chain),
        chain=tuple(chain),
        supporting=tuple(dict.fromkeys(rule for link in chain for rule in link.rules)),
        ruled_out=tuple(ruled_out),
        confidence=confidence,
        candidates=candidates,
    )


def _summary(chain: Sequence[CauseLink]) -> str:
    """trigger → each mechanism → the symptoms (with what amplified them) → what the amplification broke."""
    steps: list[str] = []
    tail: list[str] = []
    symptoms: list[str] = []
    for link in chain:
        if link.role in ("trigger", "mechanism"):
            steps.append(link.text)
        elif link.role == "symptom" and link.rules == ("registry-errors",):
            tail.append(link.text)
        else:
            symptoms.append(link.text)
    if symptoms:
        steps.append(", ".join(symptoms))
    return " → ".join(steps + tail)


def _ruled_out_revision(decision: RollbackDecision) -> tuple[str, ...]:
    return () if decision.recommended or not decision.reason else (f"a rollback: {decision.reason}",)


def _tail(text: str, limit: int = 90) -> str:
    """The end of an error message, where its reason is: "…No such file or directory: '/etc/app.yaml'"."""
    text = " ".join(text.split())
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
