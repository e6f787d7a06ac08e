/* dl_origin_lib.c: the library dl_origin finds through its RUNPATH. */
int dl_origin_answer(void);

int dl_origin_answer(void)
{
    return 42;
}
