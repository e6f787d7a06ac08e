# The library's layers call only downward (docs/design.md, src/base/base.h):
#   base < alloc < freeze < attrib < report < interpose
# Checked twice: in the sources, every #include "..." of a file in
# src/LAYER/ must name a header of its own layer or of one below; in the
# built objects, every symbol a file uses from another file must be defined
# in its own layer or one below, and no two files of a layer may call each
# other in a circle. A lower layer tells a higher one something only
# through a function pointer the higher one gave it.
. "$SRC/tests/integration/lib.sh"

python3 - "$SRC" "$BUILD" <<'PY' || fail "see above"
import os, re, subprocess, sys
src, build = sys.argv[1], sys.argv[2]
layers = ["base", "alloc", "freeze", "attrib", "report", "interpose"]
rank = {l: i for i, l in enumerate(layers)}
errors = []

# ---- includes ----------------------------------------------------------------
header_layer = {}
for l in layers:
    for f in os.listdir(os.path.join(src, "src", l)):
        if f.endswith((".h", ".def")):
            header_layer[f] = l
for extra in sorted(set(f for f in os.listdir(os.path.join(src, "src")) if not f.startswith(".")) - set(layers)):
    errors.append("src/%s: not in a layer folder" % extra)
files = []
for l in layers:
    for f in sorted(os.listdir(os.path.join(src, "src", l))):
        if not f.endswith((".c", ".h", ".def")):
            continue
        files.append((l, f))
        for n, line in enumerate(open(os.path.join(src, "src", l, f)), 1):
            m = re.match(r'\s*#\s*include\s*"([^"]+)"', line)
            if not m:
                continue
            name = m.group(1)
            where = "src/%s/%s:%d" % (l, f, n)
            if name == "config.h":
                continue
            if name == "cowguard.h":
                if l != "interpose":
                    errors.append('%s: only the interpose layer includes the public header' % where)
                continue
            if "/" in name or name not in header_layer:
                errors.append('%s: #include "%s" is no layer header (name it as the header of a layer)' % (where, name))
            elif rank[header_layer[name]] > rank[l]:
                errors.append('%s: #include "%s" points up, from %s to %s' % (where, name, l, header_layer[name]))
print("includes: %d files of %d layers read" % (len(files), len(layers)))

# ---- calls -------------------------------------------------------------------
defined, used = {}, {}
for l in layers:
    for f in sorted(os.listdir(os.path.join(src, "src", l))):
        if not f.endswith(".c"):
            continue
        unit = "%s/%s" % (l, f[:-2])
        obj = os.path.join(build, "src", l, ".libs", "libcowguard_la-%s.o" % f[:-2])
        if not os.path.exists(obj):
            errors.append("%s: no object %s (is the library built?)" % (unit, obj))
            continue
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        used[unit] = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                used[unit].add(parts[1])
            elif len(parts) == 3 and parts[1] in "TDBRVu":
                defined[parts[2]] = unit
edges = {u: set() for u in used}
for unit, syms in used.items():
    for s in syms:
        owner = defined.get(s)
        if not owner or owner == unit:
            continue
        edges[unit].add(owner)
        lu, lo = unit.split("/")[0], owner.split("/")[0]
        if rank[lo] > rank[lu]:
            errors.append("%s uses %s of %s: a call up, from %s to %s" % (unit, s, owner, lu, lo))

# Circles between files: strongly connected components of the file graph.
index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1:
            comps.append(sorted(comp))
for v in sorted(edges):
    if v not in index:
        visit(v)
for c in comps:
    errors.append("these files call each other in a circle: " + ", ".join(c))
n_edges = sum(len(e) for e in edges.values())
if not errors:
    print("calls: %d files, %d file-to-file dependencies, none upward, no circle" % (len(used), n_edges))
for e in errors:
    print("FAIL: " + e)
sys.exit(1 if errors else 0)
PY
pass "every include and every call between files points to the same layer or one below, without circles"
