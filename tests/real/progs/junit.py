"""junit.py FILE: "test-id outcome" per test case of a JUnit XML file that
CPython's regrtest wrote (--junit-xml), sorted; one line saying so when
there is none (the runner died before writing it)."""
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as e:
    print(f"no JUnit results ({type(e).__name__})")
    sys.exit(0)
lines = []
for tc in root.iter("testcase"):
    outcome = "ok"
    for kind in ("failure", "error", "skipped"):
        if tc.find(kind) is not None:
            outcome = kind
    cls = tc.get("classname", "")
    lines.append(f"{cls + '.' if cls else ''}{tc.get('name', '')} {outcome}")
print("\n".join(sorted(lines)))
