"""pyunit.py RESULTS MODULE [-k PATTERN]...: runs CPython's test.MODULE with
plain unittest (no regrtest: so no faulthandler, whose sigaltstack is the
first thing cowguard breaks) and appends "test-id outcome" to RESULTS as
each test ends, so a run that dies still shows how far it got."""
import sys
import unittest

out = None


class Result(unittest.TextTestResult):
    def _rec(self, test, outcome):
        out.write(f"{test.id()} {outcome}\n")

    def addSuccess(self, test):
        super().addSuccess(test)
        self._rec(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._rec(test, "FAIL")

    def addError(self, test, err):
        super().addError(test, err)
        self._rec(test, "ERROR")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._rec(test, "skipped")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._rec(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._rec(test, "xpass")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._rec(subtest, "FAIL" if issubclass(err[0], test.failureException) else "ERROR")


def main():
    global out
    results, module = sys.argv[1], sys.argv[2]
    patterns = [f"*{p}*" for i, p in enumerate(sys.argv) if i > 2 and sys.argv[i - 1] == "-k"]
    out = open(results, "a", buffering=1)
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = patterns
    suite = loader.loadTestsFromName("test." + module)
    r = unittest.TextTestRunner(verbosity=2, resultclass=Result).run(suite)
    sys.exit(0 if r.wasSuccessful() else 1)


# multiprocessing's forkserver and spawn start methods import __main__ again.
if __name__ == "__main__":
    main()
