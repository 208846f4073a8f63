/*
 * catalog.h - the operations this agent can run, loaded from jobs/.
 *
 * One XML file per operation (root <operation>) plus sequences files (root
 * <sequences>), all in one directory, every file validated against the
 * schema jobs/catalog.xsd, which is compiled into the binary so that the
 * catalog and its schema cannot drift apart. libxml2 loads no DTD, entity
 * or network resource. Every error names the file and the line.
 *
 * The catalog is plain data, read-only once loaded, and freed as a whole
 * with catalog_free(). Strings are never NULL unless documented.
 *
 * Values in <arg>, <env value> and <workdir> may use ${name}, where name
 * is a parameter of the operation, one of CATALOG_BUILTINS, or (in <arg>
 * only) the env name of the same step's <env> or file secret; the loader
 * refuses any other name, and never lets a secret's value into argv. Expansion happens in the runner, one argv
 * element at a time, never through a shell.
 *
 * A step is either a process (argv or a shell script) or a Delphix engine
 * action (<dddp action="..."/>, struct catalog_dddp): the engine's URL,
 * user and password come from the config ([dddp]), never from the
 * catalog, so an engine step has no argv, <env> or <secret>. The names it
 * acts on may use ${name} like an <env> value.
 */
#ifndef DA_CATALOG_H
#define DA_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Names every step may use besides its parameters:
 *   WORKSPACE  the checkout directory     JOB_NAME   the concrete Jenkins path
 *   env        segment -3 of JOB_NAME      module     segment -2 of JOB_NAME
 *   NODE_NAME  the agent's node            GIT_COMMIT the resolved commit
 *   GIT_REF    the resolved ref name       BRANCH     the parallel branch name ("" outside one)
 *   BRANCH_INDEX  1-based index of the branch ("" outside one)
 *   STATE_DIR  the agent's state directory
 *   RUN_STARTED   when the run started, UTC "2024-05-01 102500" (bookmark names)
 */
#define CATALOG_BUILTINS { "WORKSPACE", "JOB_NAME", "env", "module", "NODE_NAME", \
	"GIT_COMMIT", "GIT_REF", "BRANCH", "BRANCH_INDEX", "STATE_DIR", "RUN_STARTED", NULL }

struct catalog_param {
	char *name;          /* a valid environment variable name */
	char *default_value; /* "" when none */
	char *description;   /* "" when none */
	bool is_ref;         /* the git ref to check out (github_release_tag) */
	bool secret;         /* redact its value from logs */
	char **choices;      /* NULL-terminated; NULL = any value */
	char *pattern;       /* POSIX ERE the whole value must match; NULL = any */
};

struct catalog_env {
	char *name;
	char *value;  /* may hold ${name} */
};

/* A secret a step asks for: [secrets] <name>_file in the config. */
struct catalog_secret {
	char *name;   /* "vault_password" */
	char *env;    /* the variable the step gets: the file path or the value */
	bool as_file; /* true: env holds the path to the file; false: its contents */
};

/* What a Delphix engine step does (dddp-api.md §6, the pipeline as calls). */
enum catalog_dddp_action {
	CATALOG_DDDP_SYNC,              /* snapshot a dSource: database */
	CATALOG_DDDP_REFRESH,           /* refresh a VDB from its parent's latest snapshot: database */
	CATALOG_DDDP_CONTAINER_REFRESH, /* spin up a data pod: template, container (create) */
	CATALOG_DDDP_BOOKMARK,          /* bookmark a container, or the template when no container */
};

/* An engine step; the strings may hold ${name}, "" when not given. */
struct catalog_dddp {
	enum catalog_dddp_action action;
	char *database;   /* sync, refresh: the database's name */
	char *template_name; /* container-refresh, bookmark: the self-service template */
	char *container;  /* container-refresh, bookmark: the data pod ("" = the template) */
	char *bookmark;   /* bookmark: its name */
	char *tags;       /* bookmark: comma-separated tags */
	bool shared;      /* bookmark: visible to every Self Service user */
	bool create;      /* container-refresh: create the container from the template when missing */
};

/* The catalog's name of an action: "sync", "container-refresh", ... */
const char *catalog_dddp_action_name(enum catalog_dddp_action a);

struct catalog_step {
	char *name;
	int line;                 /* line of <step> in its file */
	char **argv;              /* NULL-terminated, argc elements, may hold ${name} */
	size_t argc;
	bool shell;               /* argv is {"/bin/sh", "-c", script}: parameters reach it only as env vars */
	char *workdir;            /* relative to the checkout, "" = its root; never absolute, never ".." */
	struct catalog_env *env;
	size_t env_count;
	struct catalog_secret *secrets;
	size_t secret_count;
	unsigned timeout_s;       /* 0 = none */
	unsigned retries;         /* extra attempts after a failure */
	struct catalog_dddp *dddp; /* non-NULL: an engine step (argv empty, argc 0) */
};

struct catalog_branch {
	char *name;               /* "prep3"; a template's {n} already replaced */
	unsigned index;           /* 1-based */
	struct catalog_step *steps;
	size_t step_count;
};

enum catalog_stage_kind { CATALOG_STAGE_STEP, CATALOG_STAGE_PARALLEL };

struct catalog_stage {
	enum catalog_stage_kind kind;
	struct catalog_step step;         /* CATALOG_STAGE_STEP */
	char *name;                       /* CATALOG_STAGE_PARALLEL: the block's name */
	int line;
	bool fail_fast;                   /* first failed branch cancels the others */
	struct catalog_branch *branches;  /* <parallel count="6"> expanded to 6, then any
					     fixed branches beside the template, in order */
	size_t branch_count;
};

/* A file a Build operation produces, stored under state_dir by operation and ref. */
struct catalog_output {
	char *name; /* the stored file name: "lpa_core_artifacts.zip" */
	char *path; /* in the checkout after the steps, may hold ${name} */
};

/* An output of another operation (for the same ref) that this one takes. */
struct catalog_input {
	char *operation; /* that operation's path: "Build/AnalyticsCore" */
	char *name;      /* its output's name */
	char *dest;      /* where it goes, relative to the checkout, may hold ${name} */
	char *version;   /* which stored version, may hold ${name}; default
			    "${<ref param>}" (the same tag), overridable by a
			    parameter as upstream's artifact_version is */
};

struct catalog_operation {
	char *file;             /* the file it came from */
	char *path;             /* "Deploy/{env}/DataPipeline/Kafka" */
	char *name;             /* the last path segment: "Kafka" */
	char *display_name;     /* the seeds' wording: "Analytics Service" */
	char *function;         /* the seeds' Function column, "" when none */
	char *description;      /* "" when none */
	char *repository;       /* git URL; NULL when nothing is checked out */
	struct catalog_param *params;
	size_t param_count;
	struct catalog_stage *stages;
	size_t stage_count;
	struct catalog_output *outputs;
	size_t output_count;
	struct catalog_input *inputs;
	size_t input_count;
};

/* A named order in which operations are run ("provision": AnalyticsApi, ...). */
struct catalog_sequence {
	char *name;
	char *description;
	char **paths;       /* operation paths, each one of the catalog */
	size_t count;
};

struct catalog {
	struct catalog_operation *ops;  /* sorted by path */
	size_t op_count;
	struct catalog_sequence *sequences;
	size_t sequence_count;
};

/* Load and validate every *.xml file of dir. DA_EINVALID with "file:line: ..." on bad input. */
int catalog_load(struct catalog **out, const char *dir);
void catalog_free(struct catalog *cat);

/* The operation with exactly this catalog path ("Deploy/{env}/DataPipeline/Kafka"), or NULL. */
const struct catalog_operation *catalog_find(const struct catalog *cat, const char *path);

/*
 * The operation a concrete Jenkins path names ("Deploy/dev/DataPipeline/Kafka"
 * or, for a catalog path without {env}, the path itself), or NULL.
 * *env_out gets the environment (new string) or NULL.
 */
const struct catalog_operation *catalog_match(const struct catalog *cat, const char *path,
					      char **env_out);

/* The parameter the ref comes from, or NULL. */
/*
 * Does the whole of value match the POSIX ERE (a <param pattern>)? 1 or 0;
 * -1 with the reason in err when the pattern is refused: it does not
 * compile, is longer than 512 characters, or stacks quantifiers ("a++"),
 * which makes glibc's regcomp take gigabytes.
 */
int catalog_pattern_match(const char *ere, const char *value, char *err, size_t errlen);
const struct catalog_param *catalog_ref_param(const struct catalog_operation *op);
const struct catalog_param *catalog_param_find(const struct catalog_operation *op, const char *name);
const struct catalog_sequence *catalog_sequence_find(const struct catalog *cat, const char *name);

#endif
