/* Run a command as this process's only child and report the child's own resource usage.
 *
 *   peak_rss FD COMMAND [ARG...]
 *
 * A process forked from the suite's Python driver starts with a copy of the driver's memory, and
 * Linux counts that copy in the peak RSS (ru_maxrss) of the program it then executes: `true` read
 * 21 MB. Forked from this small process instead, the program's peak is its own. Writes
 * "MAXRSS_KB USER_US SYSTEM_US\n" to FD when the command ran, or "exec ERRNO\n" when it could not
 * be started; then exits as the command did (the same status, or the same signal). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: peak_rss FD COMMAND [ARG...]\n");
        return 2;
    }
    int fd = atoi(argv[1]);
    int failed[2];                                  /* the child's errno when its exec fails */
    if (pipe2(failed, O_CLOEXEC) != 0) {
        dprintf(fd, "exec %d\n", errno);
        return 127;
    }
    pid_t pid = fork();
    if (pid < 0) {
        dprintf(fd, "exec %d\n", errno);
        return 127;
    }
    if (pid == 0) {
        close(fd);
        close(failed[0]);
        execvp(argv[2], argv + 2);
        int error = errno;
        if (write(failed[1], &error, sizeof error) < 0) {
            _exit(127);
        }
        _exit(127);
    }
    close(failed[1]);
    int error = 0;
    ssize_t got;
    do {
        got = read(failed[0], &error, sizeof error);
    } while (got < 0 && errno == EINTR);
    int status;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            return 127;
        }
    }
    if (got == (ssize_t)sizeof error) {
        dprintf(fd, "exec %d\n", error);
        return 127;
    }
    dprintf(fd, "%ld %ld %ld\n", usage.ru_maxrss,
            (long)usage.ru_utime.tv_sec * 1000000L + usage.ru_utime.tv_usec,
            (long)usage.ru_stime.tv_sec * 1000000L + usage.ru_stime.tv_usec);
    close(fd);
    if (WIFSIGNALED(status)) {
        signal(WTERMSIG(status), SIG_DFL);
        raise(WTERMSIG(status));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
