/* demo: `dashdot demo` — a server and a local agent in one process tree, for `make run`. */
#ifndef DD_DEMO_H
#define DD_DEMO_H

/* Runs the server in this process and the agent in a child process that follows the server's
 * life. Takes the server's arguments. Returns a process exit code. */
int demo_main(int argc, char **argv);

#endif
