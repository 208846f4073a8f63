/* main.c - the dataops-agent command line. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("dataops-agent %s\n", DA_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: dataops-agent --version\n");
	return 2;
}
