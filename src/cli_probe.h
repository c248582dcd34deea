/* cli_probe: `dashdot probe TYPE TARGET`, one run of a probe printed in the text format. */
#ifndef DD_CLI_PROBE_H
#define DD_CLI_PROBE_H

/* Runs the probe command (argv[0] is "probe"). Returns the process exit status: 0 the probe
 * succeeded, 1 it failed, 2 bad arguments. */
int cli_probe_main(int argc, char **argv);

#endif
