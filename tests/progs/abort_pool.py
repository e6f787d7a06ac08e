# tests/integration/policy_abort.sh: workers of a Pool or a ProcessPoolExecutor
# read a marked dict under COWGUARD_POLICY=abort.
import multiprocessing as mp, cowguard, concurrent.futures as cf, sys
with cowguard.readonly():
    table = {i: "v%d" % i for i in range(20000)}
def work(i):
    return len(table[i])
if __name__ == "__main__":
    if sys.argv[1] == "pool":
        with mp.get_context("fork").Pool(2) as p:
            print(sum(p.map(work, range(1000))))
    else:
        with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
            print(sum(ex.map(work, range(1000))))
