/* embed_python.c: a program that opens libpython itself, after start-up,
 * as uWSGI's python3 plugin does, and runs a Python program in it.
 *   embed_python LIBPYTHON CODE */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LIBPYTHON CODE\n", argv[0]);
        return 2;
    }
    void *py = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!py) {
        fprintf(stderr, "embed_python: %s\n", dlerror());
        return 77;
    }
    void (*init)(void) = (void (*)(void))dlsym(py, "Py_Initialize");
    int (*run)(const char *) = (int (*)(const char *))dlsym(py, "PyRun_SimpleString");
    int (*fini)(void) = (int (*)(void))dlsym(py, "Py_FinalizeEx");
    if (!init || !run || !fini) return 1;
    init();
    int rc = run(argv[2]);
    return fini() < 0 || rc != 0 ? 1 : 0;
}
