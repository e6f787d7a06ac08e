/* handler_stack.c: a stack of cowguard's own for the fault handler.
 *
 * A handler installed with SA_ONSTACK runs on the program's alternate
 * signal stack, which may be as small as the legacy SIGSTKSZ (8 KiB), and
 * the kernel's signal frame alone takes up to 3.5 KiB of it on a machine
 * with AVX-512. Unwinding the writer's stack with libunwind needs more
 * than what is left. So when the handler finds itself on an alternate
 * stack, it does its work on a stack of its own: one per thread, mapped at
 * the first need (mmap is async-signal-safe) and unmapped when the thread
 * exits. */
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "freeze.h"

#define STACK_SIZE ((size_t)128 << 10)
#define GUARD CG_PAGE

/* fn(arg) on the stack whose highest address is top (16-byte aligned). */
void cg_call_on_stack(void (*fn)(void *), void *arg, void *top);

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl cg_call_on_stack\n"
        ".hidden cg_call_on_stack\n"
        ".type cg_call_on_stack, @function\n"
        "cg_call_on_stack:\n"
        "    .cfi_startproc\n"
        "    pushq %rbp\n"
        "    .cfi_def_cfa_offset 16\n"
        "    .cfi_offset %rbp, -16\n"
        "    movq %rsp, %rbp\n"
        "    .cfi_def_cfa_register %rbp\n"
        "    movq %rdx, %rsp\n"
        "    movq %rdi, %rax\n"
        "    movq %rsi, %rdi\n"
        "    call *%rax\n"
        "    movq %rbp, %rsp\n"
        "    popq %rbp\n"
        "    .cfi_def_cfa %rsp, 8\n"
        "    ret\n"
        "    .cfi_endproc\n"
        ".size cg_call_on_stack, .-cg_call_on_stack\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl cg_call_on_stack\n"
        ".hidden cg_call_on_stack\n"
        ".type cg_call_on_stack, %function\n"
        "cg_call_on_stack:\n"
        "    .cfi_startproc\n"
        "    stp x29, x30, [sp, #-16]!\n"
        "    .cfi_def_cfa_offset 16\n"
        "    .cfi_offset x29, -16\n"
        "    .cfi_offset x30, -8\n"
        "    mov x29, sp\n"
        "    .cfi_def_cfa_register x29\n"
        "    mov sp, x2\n"
        "    mov x3, x0\n"
        "    mov x0, x1\n"
        "    blr x3\n"
        "    mov sp, x29\n"
        "    ldp x29, x30, [sp], #16\n"
        "    .cfi_def_cfa sp, 0\n"
        "    ret\n"
        "    .cfi_endproc\n"
        ".size cg_call_on_stack, .-cg_call_on_stack\n");
#else
void cg_call_on_stack(void (*fn)(void *), void *arg, void *top)
{
    fn(arg); /* no switch on this architecture */
}
#endif

static pthread_key_t key;
static bool key_ok;
static __thread char *handler_stack CG_TLS; /* this thread's, once it needed one */

static void on_thread_exit(void *stack)
{
    if (stack) cg_unmap_anon(stack, STACK_SIZE + GUARD);
}

void cg_stack_setup(void)
{
    key_ok = pthread_key_create(&key, on_thread_exit) == 0;
}

/* Is the calling thread running on its alternate signal stack? *ss: the
 * stack, as sigaltstack reports it. */
static bool on_altstack(stack_t *ss)
{
    return syscall(SYS_sigaltstack, NULL, ss) == 0 && (ss->ss_flags & SS_ONSTACK);
}

typedef struct {
    void (*fn)(void *);
    void *arg;
    stack_t altstack;
} off_t_;

/* On cowguard's stack: the alternate stack is switched off while fn runs.
 * The kernel thinks a thread on another stack is off its alternate stack,
 * and would deliver a nested SIGSEGV (a read under a probe that faults,
 * attrib/python.c) at the alternate stack's top, over the frames of the
 * handler that switched stacks: its return would then jump into whatever
 * the nested delivery left there. Switched off, the nested signal is
 * delivered here, below fn's frames. */
static void off_altstack(void *arg)
{
    off_t_ *o = arg;
    stack_t off = { .ss_flags = SS_DISABLE };
    bool disabled = syscall(SYS_sigaltstack, &off, NULL) == 0;
    o->fn(o->arg);
    if (disabled) {
        stack_t back = o->altstack;
        back.ss_flags &= ~SS_ONSTACK; /* as it was set, not as it was reported */
        syscall(SYS_sigaltstack, &back, NULL);
    }
}

/* fn(arg), on cowguard's stack when the thread is on its alternate signal
 * stack (and on the current one when no stack can be had). Async-signal-safe. */
void cg_run_on_big_stack(void (*fn)(void *), void *arg)
{
    off_t_ o = { fn, arg, { 0 } };
    if (!on_altstack(&o.altstack)) {
        fn(arg);
        return;
    }
    char *s = handler_stack;
    if (!s) {
        s = cg_map_anon(STACK_SIZE + GUARD);
        if (!s) {
            fn(arg);
            return;
        }
        syscall(SYS_mprotect, s, GUARD, PROT_NONE); /* overflow faults instead of writing below */
        handler_stack = s;
        /* Freed at thread exit. pthread_setspecific is not on the list of
         * async-signal-safe calls, but with a key made at start-up glibc's
         * only stores to the thread's own descriptor. */
        if (key_ok) pthread_setspecific(key, s);
    }
    cg_call_on_stack(off_altstack, &o, s + STACK_SIZE + GUARD);
}
