/*
 * catalog.c - load the *.xml files of jobs/ into plain data (see catalog.h).
 *
 * Each file goes through four gates, and its errors are collected as
 * "file:line: message" (at most CAT_MAX_ERRORS of them, all files):
 *   1. read: a regular file of at most CAT_MAX_FILE bytes;
 *   2. parse: libxml2 with XML_PARSE_NONET and without NOENT/DTDLOAD; a
 *      DOCTYPE stops the parser at once (SAX internalSubset hook), so no
 *      internal subset, entity or external file is ever looked at;
 *   3. validate against the schema compiled in from jobs/catalog.xsd;
 *   4. build the structs, with the checks a schema cannot make.
 * Cross-file checks (duplicate paths, inputs and sequences naming
 * operations) run once every file has been built.
 *
 * libxml2 never writes to stderr: for the duration of catalog_load the
 * thread's structured and generic error handlers point here, and the
 * previous handlers are put back at the end.
 *
 * Memory: every allocation of a catalog hangs off one list owned by the
 * catalog (one malloc per item, so ASan sees every bound); catalog_free
 * walks the list. Half-built catalogs are freed the same way.
 */
#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "jobpath.h"
#include "xmalloc.h"

/* Generated at build time from jobs/catalog.xsd (cmake/EmbedFile.cmake). */
extern const unsigned char catalog__xsd[];
extern const size_t catalog__xsd_len;

#define CAT_MAX_FILE (1024 * 1024)  /* bytes per catalog file */
#define CAT_MAX_FILES 4096          /* files per directory */
#define CAT_MAX_ERRORS 20           /* messages kept per load */
#define CAT_MAX_COUNT 64            /* branches of one parallel block */
#define CAT_PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA)

#if LIBXML_VERSION >= 21200
typedef const xmlError *cat_xml_error;
#else
typedef xmlError *cat_xml_error;
#endif

/* ---- ownership ------------------------------------------------------ */

struct cat_mem {
	struct cat_mem *next;
	max_align_t data[];
};

/* The catalog and the list of everything it owns. */
struct cat_owner {
	struct catalog cat; /* first: catalog_free casts back */
	struct cat_mem *mem;
};

static void *cat_alloc(struct cat_owner *o, size_t nmemb, size_t size)
{
	struct cat_mem *m;

	if (size && nmemb > (SIZE_MAX - sizeof(*m)) / size)
		fatal("catalog: allocation overflow");
	m = xcalloc(1, sizeof(*m) + nmemb * size);
	m->next = o->mem;
	o->mem = m;
	return m->data;
}

static char *cat_strdup(struct cat_owner *o, const char *s)
{
	size_t n = strlen(s);
	char *p = cat_alloc(o, n + 1, 1);

	memcpy(p, s, n);
	return p;
}

/* ---- the loader's state ----------------------------------------------- */

/* An operation or sequence while loading, with where it was written. */
struct op_slot {
	struct catalog_operation op;
	int line;
	int *input_lines;
};

struct seq_slot {
	struct catalog_sequence seq;
	char *file;
	int line;
	int *op_lines;
};

struct loader {
	struct cat_owner *own;
	struct buf errors;
	unsigned error_count;
	const char *file;        /* the file being read, for messages without one */
	int doctype_line;        /* > 0: the file has a DOCTYPE */
	struct op_slot *ops;     /* temporary, moved into the catalog at the end */
	size_t op_count;
	struct seq_slot *seqs;
	size_t seq_count;
};

static void lerr(struct loader *ld, const char *file, long line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record one "file:line: message". */
static void lerr(struct loader *ld, const char *file, long line, const char *fmt, ...)
{
	va_list ap;

	ld->error_count++;
	if (ld->error_count > CAT_MAX_ERRORS) {
		if (ld->error_count == CAT_MAX_ERRORS + 1)
			(void)buf_puts(&ld->errors, "\n(more errors not shown)");
		return;
	}
	if (ld->errors.len)
		(void)buf_putc(&ld->errors, '\n');
	if (line > 0)
		(void)buf_printf(&ld->errors, "%s:%ld: ", file ? file : "?", line);
	else
		(void)buf_printf(&ld->errors, "%s: ", file ? file : "?");
	va_start(ap, fmt);
	(void)buf_vprintf(&ld->errors, fmt, ap);
	va_end(ap);
}

/* libxml2's structured errors (parser and schema) become ours. */
static void on_xml_error(void *data, cat_xml_error e)
{
	struct loader *ld = data;
	char msg[512];
	size_t n;

	if (!ld || !e)
		return;
	snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "XML error");
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	lerr(ld, e->file ? e->file : ld->file, e->line, "%s%s",
	     e->level == XML_ERR_WARNING ? "warning: " : "", msg);
}

/* Anything libxml2 still prints through the generic channel. */
static void on_xml_generic(void *data, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void on_xml_generic(void *data, const char *fmt, ...)
{
	struct loader *ld = data;
	char msg[512];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	if (ld && n)
		lerr(ld, ld->file, 0, "%s", msg);
}

/* SAX hook: the parser met <!DOCTYPE ...>. Stop before its subset is read. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
		       const xmlChar *sys_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct loader *ld = ctxt->_private;

	(void)name;
	(void)ext_id;
	(void)sys_id;
	if (ld && !ld->doctype_line)
		ld->doctype_line = ctxt->input ? ctxt->input->line : 1;
	xmlStopParser(ctxt);
}

/* ---- small XML helpers -------------------------------------------------- */

static int node_line(const xmlNode *n)
{
	long l = xmlGetLineNo(n);

	return l > 0 && l < INT32_MAX ? (int)l : 0;
}

static bool is_elem(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && (!name || strcmp((const char *)n->name, name) == 0);
}

/* Attribute value copied into the catalog, or NULL when absent. */
static char *attr(struct loader *ld, const xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	char *s;

	if (!v)
		return NULL;
	s = cat_strdup(ld->own, (const char *)v);
	xmlFree(v);
	return s;
}

static char *attr_or(struct loader *ld, const xmlNode *n, const char *name, const char *dflt)
{
	char *s = attr(ld, n, name);

	return s ? s : cat_strdup(ld->own, dflt);
}

static bool attr_true(const xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	bool t = v && strcmp((const char *)v, "true") == 0;

	xmlFree(v);
	return t;
}

static unsigned attr_uint(const xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	unsigned long u = 0;

	if (v) /* the schema allows digits only, at most 9 of them */
		u = strtoul((const char *)v, NULL, 10);
	xmlFree(v);
	return (unsigned)u;
}

/* Text content, exactly as written. */
static char *text(struct loader *ld, const xmlNode *n)
{
	xmlChar *v = xmlNodeGetContent(n);
	char *s = cat_strdup(ld->own, v ? (const char *)v : "");

	xmlFree(v);
	return s;
}

/* Text content with runs of white space collapsed (prose). */
static char *prose(struct loader *ld, const xmlNode *n)
{
	char *s = text(ld, n), *w = s;
	const char *r = s;
	bool space = false;

	for (; *r; r++) {
		if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') {
			space = w != s;
			continue;
		}
		if (space)
			*w++ = ' ';
		space = false;
		*w++ = *r;
	}
	*w = '\0';
	return s;
}

static size_t count_children(const xmlNode *n, const char *name)
{
	size_t c = 0;

	for (const xmlNode *k = n->children; k; k = k->next)
		if (is_elem(k, name))
			c++;
	return c;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *k = n->children; k; k = k->next)
		if (is_elem(k, name))
			return k;
	return NULL;
}

/* ---- semantic checks ------------------------------------------------------ */

static const char *const builtins[] = CATALOG_BUILTINS;

static bool is_builtin(const char *name, size_t len)
{
	for (size_t i = 0; builtins[i]; i++)
		if (strlen(builtins[i]) == len && strncmp(builtins[i], name, len) == 0)
			return true;
	return false;
}

static bool is_var_name(const char *s, size_t len)
{
	if (!len || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* What a ${name} in one value may refer to. */
struct scope {
	const struct catalog_operation *op;   /* its params */
	const struct catalog_step *step;      /* NULL: no step-local names */
	bool in_argv;                         /* <arg>: step env and file secrets too */
};

static const struct catalog_param *param_named(const struct catalog_operation *op,
					       const char *name, size_t len)
{
	for (size_t i = 0; i < op->param_count; i++)
		if (strlen(op->params[i].name) == len &&
		    strncmp(op->params[i].name, name, len) == 0)
			return &op->params[i];
	return NULL;
}

/* Check every ${name} of value; what names where. */
static void check_refs(struct loader *ld, int line, const struct scope *sc,
		       const char *what, const char *value)
{
	const char *p = value;

	while ((p = strstr(p, "${")) != NULL) {
		const char *name = p + 2, *end = strchr(name, '}');
		size_t len;
		const struct catalog_param *prm;
		bool ok = false;

		if (!end) {
			lerr(ld, ld->file, line, "%s: unterminated \"${\" in \"%s\"", what, value);
			return;
		}
		len = (size_t)(end - name);
		p = end + 1;
		if (!is_var_name(name, len)) {
			lerr(ld, ld->file, line, "%s: \"${%.*s}\" is not a valid name",
			     what, (int)len, name);
			continue;
		}
		prm = param_named(sc->op, name, len);
		if (prm) {
			if (sc->in_argv && prm->secret)
				lerr(ld, ld->file, line,
				     "%s: secret parameter \"%s\" must not be put in argv; "
				     "a step reads it from its environment", what, prm->name);
			continue;
		}
		if (is_builtin(name, len))
			continue;
		if (sc->step) {
			for (size_t i = 0; i < sc->step->secret_count; i++) {
				const struct catalog_secret *s = &sc->step->secrets[i];
				if (strlen(s->env) != len || strncmp(s->env, name, len) != 0)
					continue;
				if (!s->as_file && sc->in_argv) {
					lerr(ld, ld->file, line,
					     "%s: \"${%s}\" is the value of secret \"%s\"; a secret's "
					     "value must never be in argv (use as=\"file\", or read "
					     "the variable in the step)", what, s->env, s->name);
					ok = true;
				} else if (sc->in_argv) {
					ok = true;
				}
			}
			for (size_t i = 0; !ok && sc->in_argv && i < sc->step->env_count; i++)
				if (strlen(sc->step->env[i].name) == len &&
				    strncmp(sc->step->env[i].name, name, len) == 0)
					ok = true;
			if (ok)
				continue;
		}
		lerr(ld, ld->file, line,
		     "%s: unknown name \"${%.*s}\": not a parameter of %s, a builtin%s",
		     what, (int)len, name, sc->op->path,
		     sc->in_argv ? ", nor an <env> or file <secret> of this step" : "");
	}
}

/* A path relative to the checkout: not absolute, no ".." segment. */
static void check_rel_path(struct loader *ld, int line, const char *what, const char *path)
{
	const char *seg = path;

	if (path[0] == '/') {
		lerr(ld, ld->file, line, "%s \"%s\" must be relative to the checkout", what, path);
		return;
	}
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);

		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			lerr(ld, ld->file, line, "%s \"%s\" must not contain \"..\"", what, path);
			return;
		}
		if (!slash)
			break;
		seg = slash + 1;
	}
}

/* Operation paths: segments [A-Za-z0-9._-]+ or {env}, {env} at most once, not last. */
static bool check_op_path(struct loader *ld, int line, const char *path)
{
	const char *seg = path, *last = path;
	int envs = 0;
	bool ok = true;

	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		char *s = xstrndup(seg, len);

		last = seg;
		if (strcmp(s, "{env}") == 0) {
			envs++;
		} else if (!jobpath_segment_is_valid(s)) {
			lerr(ld, ld->file, line, "operation path \"%s\": bad segment \"%s\"", path, s);
			ok = false;
		}
		free(s);
		if (!slash)
			break;
		seg = slash + 1;
	}
	if (envs > 1) {
		lerr(ld, ld->file, line, "operation path \"%s\": {env} may appear only once", path);
		ok = false;
	}
	if (strcmp(last, "{env}") == 0) {
		lerr(ld, ld->file, line, "operation path \"%s\": the last segment must be a name, "
		     "not {env}", path);
		ok = false;
	}
	if (strlen(last) >= 5 && strcmp(last + strlen(last) - 5, "-runs") == 0) {
		lerr(ld, ld->file, line, "operation path \"%s\": a name ending in \"-runs\" would "
		     "clash with the record job of another operation", path);
		ok = false;
	}
	return ok;
}

/* The longest <param pattern> the loader takes: a parameter pattern is a short shape. */
#define CATALOG_PATTERN_MAX 512

/*
 * Refuse what would make glibc's regcomp blow up: a quantifier right after
 * a quantifier ("a++++"), whose compiled tree grows about 4x per pair (20
 * of them took 0.7 GB; found by fuzz/catalog), and overlong patterns.
 */
static bool pattern_is_tame(const char *ere, char *err, size_t errlen)
{
	bool in_bracket = false, after_quantifier = false;

	if (strlen(ere) > CATALOG_PATTERN_MAX) {
		snprintf(err, errlen, "longer than %d characters", CATALOG_PATTERN_MAX);
		return false;
	}
	for (const char *c = ere; *c; c++) {
		bool quantifier;

		if (in_bracket) {
			/* "[]...]" and "[^]...]": a ']' first is a member, not the end. */
			if (*c == ']' && c[-1] != '[' && !(c[-1] == '^' && c[-2] == '['))
				in_bracket = false;
			continue;
		}
		if (*c == '\\' && c[1]) {
			c++;
			after_quantifier = false;
			continue;
		}
		if (*c == '[') {
			in_bracket = true;
			after_quantifier = false;
			continue;
		}
		quantifier = *c == '*' || *c == '+' || *c == '?' || *c == '{';
		if (quantifier && after_quantifier) {
			snprintf(err, errlen, "a quantifier follows a quantifier at offset %ld; write "
				 "one quantifier (or a group)", (long)(c - ere));
			return false;
		}
		if (*c == '{') {
			/* The whole interval "{m,n}" is the one quantifier. */
			while (c[1] && c[1] != '}')
				c++;
			if (c[1] == '}')
				c++;
		}
		after_quantifier = quantifier;
	}
	return true;
}

int catalog_pattern_match(const char *ere, const char *value, char *err, size_t errlen)
{
	char *anchored;
	regex_t re;
	int rc;

	if (!pattern_is_tame(ere, err, errlen))
		return -1;
	anchored = xasprintf("^(%s)$", ere);
	rc = regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (rc != 0) {
		regerror(rc, &re, err, errlen);
		return -1;
	}
	rc = regexec(&re, value, 0, NULL, 0) == 0;
	regfree(&re);
	return rc;
}

/* ---- building an operation ---------------------------------------------- */

static void build_params(struct loader *ld, struct catalog_operation *op, const xmlNode *list)
{
	size_t n = list ? count_children(list, "param") : 0, i = 0;
	const char *ref_name = NULL;

	op->params = cat_alloc(ld->own, n + 1, sizeof(*op->params));
	op->param_count = 0;
	if (!list)
		return;
	for (const xmlNode *k = list->children; k; k = k->next) {
		struct catalog_param *p = &op->params[i];
		int line = node_line(k);
		size_t nc, c = 0;
		char *dflt;

		if (!is_elem(k, "param"))
			continue;
		p->name = attr(ld, k, "name");
		p->description = attr_or(ld, k, "description", "");
		p->is_ref = attr_true(k, "ref");
		p->secret = attr_true(k, "secret");
		p->pattern = attr(ld, k, "pattern");
		dflt = attr(ld, k, "default");
		nc = count_children(k, "choice");
		if (nc) {
			p->choices = cat_alloc(ld->own, nc + 1, sizeof(char *));
			for (const xmlNode *ch = k->children; ch; ch = ch->next) {
				if (!is_elem(ch, "choice"))
					continue;
				p->choices[c] = text(ld, ch);
				for (size_t j = 0; j < c; j++)
					if (strcmp(p->choices[j], p->choices[c]) == 0)
						lerr(ld, ld->file, node_line(ch),
						     "parameter \"%s\": duplicate choice \"%s\"",
						     p->name, p->choices[c]);
				c++;
			}
		}
		p->default_value = dflt ? dflt : nc ? p->choices[0] : cat_strdup(ld->own, "");

		for (size_t j = 0; j < i; j++)
			if (strcmp(op->params[j].name, p->name) == 0)
				lerr(ld, ld->file, line, "duplicate parameter \"%s\"", p->name);
		if (is_builtin(p->name, strlen(p->name)))
			lerr(ld, ld->file, line, "parameter \"%s\" hides the builtin of that name", p->name);
		if (p->is_ref) {
			if (ref_name)
				lerr(ld, ld->file, line, "parameter \"%s\": only one parameter may have "
				     "ref=\"true\" (\"%s\" has it already)", p->name, ref_name);
			ref_name = p->name;
		}
		if (nc) {
			bool found = false;
			for (size_t j = 0; j < nc; j++)
				found |= strcmp(p->choices[j], p->default_value) == 0;
			if (!found)
				lerr(ld, ld->file, line, "parameter \"%s\": default \"%s\" is not one of its choices",
				     p->name, p->default_value);
		}
		if (p->pattern) {
			char err[128];
			int m = catalog_pattern_match(p->pattern, p->default_value, err, sizeof(err));

			if (m < 0)
				lerr(ld, ld->file, line, "parameter \"%s\": pattern \"%s\": %s",
				     p->name, p->pattern, err);
			else if (!m && *p->default_value)
				lerr(ld, ld->file, line, "parameter \"%s\": default \"%s\" does not match "
				     "its pattern \"%s\"", p->name, p->default_value, p->pattern);
			for (size_t j = 0; m >= 0 && j < nc; j++)
				if (!catalog_pattern_match(p->pattern, p->choices[j], err, sizeof(err)))
					lerr(ld, ld->file, line, "parameter \"%s\": choice \"%s\" does not "
					     "match its pattern", p->name, p->choices[j]);
		}
		i++;
	}
	op->param_count = i;
}

const char *catalog_dddp_action_name(enum catalog_dddp_action a)
{
	switch (a) {
	case CATALOG_DDDP_SYNC: return "sync";
	case CATALOG_DDDP_REFRESH: return "refresh";
	case CATALOG_DDDP_CONTAINER_REFRESH: return "container-refresh";
	case CATALOG_DDDP_BOOKMARK: return "bookmark";
	}
	return "?";
}

/* An engine attribute: "" when absent; its ${name} checked like an <env> value. */
static char *dddp_attr(struct loader *ld, const struct scope *sc, const xmlNode *n,
		       const char *name)
{
	char *v = attr_or(ld, n, name, "");
	char what[64];

	snprintf(what, sizeof(what), "<dddp %s>", name);
	check_refs(ld, node_line(n), sc, what, v);
	return v;
}

/*
 * The <dddp> of an engine step: nothing else but the step's attributes,
 * and exactly the attributes its action uses.
 */
static void build_dddp(struct loader *ld, const struct catalog_operation *op,
		       struct catalog_step *st, const xmlNode *n, size_t others)
{
	static const struct {
		const char *name;
		enum catalog_dddp_action action;
		const char *needs[3];  /* attributes that must be there */
		const char *allows[6]; /* every attribute it takes */
	} actions[] = {
		{ "sync", CATALOG_DDDP_SYNC, { "database" }, { "database" } },
		{ "refresh", CATALOG_DDDP_REFRESH, { "database" }, { "database" } },
		{ "container-refresh", CATALOG_DDDP_CONTAINER_REFRESH, { "template", "container" },
		  { "template", "container", "create" } },
		{ "bookmark", CATALOG_DDDP_BOOKMARK, { "template", "bookmark" },
		  { "template", "container", "bookmark", "tags", "shared" } },
	};
	static const char *const all[] = { "database", "template", "container", "bookmark",
					   "tags", "shared", "create", NULL };
	const xmlNode *d = child(n, "dddp");
	int line = node_line(d);
	struct scope sc = { op, NULL, false };
	struct catalog_dddp *x;
	char *name;
	size_t a;

	st->argv = cat_alloc(ld->own, 1, sizeof(char *));
	st->argc = 0;
	if (count_children(n, "dddp") != 1 || others || st->env_count || st->secret_count ||
	    st->shell || *st->workdir) {
		lerr(ld, ld->file, node_line(n), "step \"%s\": an engine step has exactly one <dddp> "
		     "and no <arg>, <script>, <env>, <secret>, shell or workdir (the engine's URL "
		     "and credentials come from the config's [dddp] section)", st->name);
		return;
	}
	name = attr_or(ld, d, "action", "");
	for (a = 0; a < sizeof(actions) / sizeof(actions[0]); a++)
		if (strcmp(actions[a].name, name) == 0)
			break;
	if (a == sizeof(actions) / sizeof(actions[0])) {
		lerr(ld, ld->file, line, "step \"%s\": unknown engine action \"%s\"", st->name, name);
		return;
	}
	x = cat_alloc(ld->own, 1, sizeof(*x));
	x->action = actions[a].action;
	for (size_t i = 0; all[i]; i++) {
		bool allowed = false;

		for (size_t j = 0; j < 6 && actions[a].allows[j]; j++)
			allowed |= strcmp(actions[a].allows[j], all[i]) == 0;
		if (!allowed && xmlHasProp(d, (const xmlChar *)all[i]))
			lerr(ld, ld->file, line, "step \"%s\": <dddp action=\"%s\"> takes no %s=\"...\"",
			     st->name, name, all[i]);
	}
	for (size_t j = 0; j < 3 && actions[a].needs[j]; j++) {
		char *v = attr(ld, d, actions[a].needs[j]);

		if (!v || !*v)
			lerr(ld, ld->file, line, "step \"%s\": <dddp action=\"%s\"> needs a non-empty "
			     "%s=\"...\"", st->name, name, actions[a].needs[j]);
	}
	x->database = dddp_attr(ld, &sc, d, "database");
	x->template_name = dddp_attr(ld, &sc, d, "template");
	x->container = dddp_attr(ld, &sc, d, "container");
	x->bookmark = dddp_attr(ld, &sc, d, "bookmark");
	x->tags = dddp_attr(ld, &sc, d, "tags");
	x->shared = attr_true(d, "shared");
	x->create = attr_true(d, "create");
	st->dddp = x;
}

/* One <step>. */
static void build_step(struct loader *ld, const struct catalog_operation *op,
		       struct catalog_step *st, const xmlNode *n)
{
	int line = node_line(n);
	size_t nargs = count_children(n, "arg"), nscripts = count_children(n, "script");
	size_t i;
	struct scope sc = { op, st, false };
	char *workdir;

	st->name = attr(ld, n, "name");
	st->line = line;
	st->shell = attr_true(n, "shell");
	workdir = attr(ld, n, "workdir");
	st->workdir = workdir ? workdir : cat_strdup(ld->own, "");
	st->timeout_s = attr_uint(n, "timeout");
	st->retries = attr_uint(n, "retries");

	st->env = cat_alloc(ld->own, count_children(n, "env") + 1, sizeof(*st->env));
	st->secrets = cat_alloc(ld->own, count_children(n, "secret") + 1, sizeof(*st->secrets));
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (is_elem(k, "env")) {
			struct catalog_env *e = &st->env[st->env_count];

			e->name = attr(ld, k, "name");
			e->value = attr_or(ld, k, "value", "");
			for (i = 0; i < st->env_count; i++)
				if (strcmp(st->env[i].name, e->name) == 0)
					lerr(ld, ld->file, node_line(k), "step \"%s\": duplicate <env> \"%s\"",
					     st->name, e->name);
			check_refs(ld, node_line(k), &sc, "<env>", e->value);
			st->env_count++;
		} else if (is_elem(k, "secret")) {
			struct catalog_secret *s = &st->secrets[st->secret_count];
			char *as = attr(ld, k, "as");

			s->name = attr(ld, k, "name");
			s->env = attr(ld, k, "env");
			s->as_file = !as || strcmp(as, "file") == 0;
			for (i = 0; i < st->secret_count; i++)
				if (strcmp(st->secrets[i].env, s->env) == 0 ||
				    strcmp(st->secrets[i].name, s->name) == 0)
					lerr(ld, ld->file, node_line(k), "step \"%s\": duplicate <secret> \"%s\"",
					     st->name, s->name);
			st->secret_count++;
		}
	}
	/* A variable set twice, by an <env> and by a <secret>, in either order. */
	for (i = 0; i < st->env_count; i++)
		for (size_t j = 0; j < st->secret_count; j++)
			if (strcmp(st->env[i].name, st->secrets[j].env) == 0)
				lerr(ld, ld->file, line, "step \"%s\": <secret> \"%s\" and <env> both set \"%s\"",
				     st->name, st->secrets[j].name, st->env[i].name);

	if (count_children(n, "dddp")) {
		build_dddp(ld, op, st, n, nargs + nscripts);
		return;
	}
	if (st->shell) {
		const xmlNode *script = child(n, "script");

		if (nscripts != 1 || nargs) {
			lerr(ld, ld->file, line, "step \"%s\": a shell step has exactly one <script> "
			     "and no <arg>", st->name);
		}
		st->argv = cat_alloc(ld->own, 4, sizeof(char *));
		st->argv[0] = cat_strdup(ld->own, "/bin/sh");
		st->argv[1] = cat_strdup(ld->own, "-c");
		st->argv[2] = script ? text(ld, script) : cat_strdup(ld->own, "");
		st->argc = 3;
		if (script && strstr(st->argv[2], "${"))
			lerr(ld, ld->file, node_line(script),
			     "step \"%s\": \"${\" is not allowed in a <script>: parameters reach a "
			     "script only as environment variables (write $name)", st->name);
	} else {
		if (nscripts)
			lerr(ld, ld->file, line, "step \"%s\": <script> needs shell=\"true\"", st->name);
		if (!nargs)
			lerr(ld, ld->file, line, "step \"%s\": no <arg> (argv) given", st->name);
		st->argv = cat_alloc(ld->own, nargs + 1, sizeof(char *));
		sc.in_argv = true;
		for (const xmlNode *k = n->children; k; k = k->next) {
			if (!is_elem(k, "arg"))
				continue;
			st->argv[st->argc] = text(ld, k);
			check_refs(ld, node_line(k), &sc, "<arg>", st->argv[st->argc]);
			st->argc++;
		}
		if (nargs && !*st->argv[0])
			lerr(ld, ld->file, line, "step \"%s\": the first <arg> (the program) is empty",
			     st->name);
	}
	sc.in_argv = false;
	if (workdir) {
		check_rel_path(ld, line, "workdir", workdir);
		check_refs(ld, line, &sc, "workdir", workdir);
	}
}

static bool name_seen(char **names, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Replace every "{n}" of tmpl with index. */
static char *expand_n(struct loader *ld, const char *tmpl, unsigned index)
{
	struct buf b;
	const char *p = tmpl, *m;
	char *s;

	buf_init(&b, 4096);
	while ((m = strstr(p, "{n}")) != NULL) {
		(void)buf_put(&b, p, (size_t)(m - p));
		(void)buf_printf(&b, "%u", index);
		p = m + 3;
	}
	(void)buf_puts(&b, p);
	s = cat_strdup(ld->own, buf_cstr(&b));
	buf_dispose(&b);
	return s;
}

static void build_branch_steps(struct loader *ld, const struct catalog_operation *op,
			       struct catalog_branch *br, const xmlNode *n)
{
	size_t ns = count_children(n, "step");
	char **names = xcalloc(ns + 1, sizeof(char *));

	br->steps = cat_alloc(ld->own, ns + 1, sizeof(*br->steps));
	for (const xmlNode *k = n->children; k; k = k->next) {
		struct catalog_step *st;

		if (!is_elem(k, "step"))
			continue;
		st = &br->steps[br->step_count];
		build_step(ld, op, st, k);
		if (name_seen(names, br->step_count, st->name))
			lerr(ld, ld->file, st->line, "duplicate step name \"%s\" in branch \"%s\"",
			     st->name, br->name);
		names[br->step_count++] = st->name;
	}
	free(names);
}

static void build_parallel(struct loader *ld, const struct catalog_operation *op,
			   struct catalog_stage *sg, const xmlNode *n)
{
	size_t nb = count_children(n, "branch");
	unsigned count = attr_uint(n, "count");
	bool has_count = xmlHasProp(n, (const xmlChar *)"count") != NULL;
	unsigned before = ld->error_count;
	char **names;

	sg->kind = CATALOG_STAGE_PARALLEL;
	sg->name = attr(ld, n, "name");
	sg->line = node_line(n);
	sg->fail_fast = attr_true(n, "fail-fast");

	if (has_count) {
		const xmlNode *tmpl = NULL;
		size_t ntmpl = 0;

		for (const xmlNode *k = n->children; k; k = k->next) {
			xmlChar *bn;

			if (!is_elem(k, "branch"))
				continue;
			bn = xmlGetNoNsProp(k, (const xmlChar *)"name");
			if (bn && strstr((const char *)bn, "{n}")) {
				ntmpl++;
				tmpl = tmpl ? tmpl : k;
			}
			xmlFree(bn);
		}
		if (count < 1 || count > CAT_MAX_COUNT) {
			lerr(ld, ld->file, sg->line, "parallel \"%s\": count must be 1..%d",
			     sg->name, CAT_MAX_COUNT);
			count = 0;
		}
		if (ntmpl != 1) {
			const xmlNode *first = child(n, "branch");

			lerr(ld, ld->file, ntmpl || !first ? sg->line : node_line(first),
			     "parallel \"%s\": count=\"%u\" needs exactly one template <branch> "
			     "whose name holds {n} (found %zu)", sg->name, count, ntmpl);
			count = 0;
			tmpl = NULL;
		}
		if (count + nb - 1 > CAT_MAX_COUNT) {
			lerr(ld, ld->file, sg->line, "parallel \"%s\": more than %d branches in all",
			     sg->name, CAT_MAX_COUNT);
			count = 0;
			tmpl = NULL;
		}
		sg->branches = cat_alloc(ld->own, count + nb + 1, sizeof(*sg->branches));
		names = xcalloc(count + nb + 1, sizeof(char *));
		for (const xmlNode *k = n->children; tmpl && k; k = k->next) {
			char *tname;

			if (!is_elem(k, "branch"))
				continue;
			tname = attr(ld, k, "name");
			for (unsigned i = 1; i <= (k == tmpl ? count : 1); i++) {
				struct catalog_branch *br = &sg->branches[sg->branch_count];

				br->name = k == tmpl ? expand_n(ld, tname, i) : tname;
				br->index = (unsigned)sg->branch_count + 1;
				if (name_seen(names, sg->branch_count, br->name))
					lerr(ld, ld->file, node_line(k), "parallel \"%s\": duplicate "
					     "branch \"%s\"", sg->name, br->name);
				names[sg->branch_count++] = br->name;
				build_branch_steps(ld, op, br, k);
				if (ld->error_count != before)
					break; /* the template's errors once, not N times */
			}
			if (ld->error_count != before)
				break;
		}
		free(names);
		return;
	}

	sg->branches = cat_alloc(ld->own, nb + 1, sizeof(*sg->branches));
	names = xcalloc(nb + 1, sizeof(char *));
	for (const xmlNode *k = n->children; k; k = k->next) {
		struct catalog_branch *br;

		if (!is_elem(k, "branch"))
			continue;
		br = &sg->branches[sg->branch_count];
		br->name = attr(ld, k, "name");
		br->index = (unsigned)sg->branch_count + 1;
		if (strstr(br->name, "{n}"))
			lerr(ld, ld->file, node_line(k), "parallel \"%s\": branch \"%s\": {n} needs "
			     "count=\"N\" on the <parallel>", sg->name, br->name);
		if (name_seen(names, sg->branch_count, br->name))
			lerr(ld, ld->file, node_line(k), "parallel \"%s\": duplicate branch \"%s\"",
			     sg->name, br->name);
		names[sg->branch_count++] = br->name;
		build_branch_steps(ld, op, br, k);
	}
	free(names);
}

static void build_stages(struct loader *ld, struct catalog_operation *op, const xmlNode *steps)
{
	size_t n = count_children(steps, NULL);
	char **names = xcalloc(n + 1, sizeof(char *));

	op->stages = cat_alloc(ld->own, n + 1, sizeof(*op->stages));
	for (const xmlNode *k = steps->children; k; k = k->next) {
		struct catalog_stage *sg;

		if (!is_elem(k, NULL))
			continue;
		sg = &op->stages[op->stage_count];
		if (is_elem(k, "parallel")) {
			build_parallel(ld, op, sg, k);
		} else {
			sg->kind = CATALOG_STAGE_STEP;
			build_step(ld, op, &sg->step, k);
			sg->name = sg->step.name;
			sg->line = sg->step.line;
		}
		if (name_seen(names, op->stage_count, sg->name))
			lerr(ld, ld->file, sg->line, "duplicate step name \"%s\"", sg->name);
		names[op->stage_count++] = sg->name;
	}
	free(names);
}

static void build_outputs(struct loader *ld, struct catalog_operation *op, const xmlNode *list)
{
	struct scope sc = { op, NULL, false };

	op->outputs = cat_alloc(ld->own, (list ? count_children(list, "output") : 0) + 1,
				sizeof(*op->outputs));
	for (const xmlNode *k = list ? list->children : NULL; k; k = k->next) {
		struct catalog_output *o;
		int line = node_line(k);

		if (!is_elem(k, "output"))
			continue;
		o = &op->outputs[op->output_count];
		o->name = attr(ld, k, "name");
		o->path = attr(ld, k, "path");
		for (size_t i = 0; i < op->output_count; i++)
			if (strcmp(op->outputs[i].name, o->name) == 0)
				lerr(ld, ld->file, line, "duplicate output \"%s\"", o->name);
		check_rel_path(ld, line, "output path", o->path);
		check_refs(ld, line, &sc, "output path", o->path);
		op->output_count++;
	}
}

static void build_inputs(struct loader *ld, struct op_slot *slot, const xmlNode *list)
{
	struct catalog_operation *op = &slot->op;
	struct scope sc = { op, NULL, false };
	const struct catalog_param *ref = catalog_ref_param(op);
	size_t n = list ? count_children(list, "input") : 0;

	op->inputs = cat_alloc(ld->own, n + 1, sizeof(*op->inputs));
	slot->input_lines = cat_alloc(ld->own, n + 1, sizeof(int));
	for (const xmlNode *k = list ? list->children : NULL; k; k = k->next) {
		struct catalog_input *in;
		int line = node_line(k);

		if (!is_elem(k, "input"))
			continue;
		in = &op->inputs[op->input_count];
		in->operation = attr(ld, k, "operation");
		in->name = attr(ld, k, "name");
		in->dest = attr(ld, k, "dest");
		in->version = attr(ld, k, "version");
		if (!in->version) {
			if (ref) {
				in->version = cat_alloc(ld->own, strlen(ref->name) + 4, 1);
				snprintf(in->version, strlen(ref->name) + 4, "${%s}", ref->name);
			} else {
				lerr(ld, ld->file, line, "input \"%s\": version=\"...\" is needed when the "
				     "operation has no ref parameter", in->name);
				in->version = cat_strdup(ld->own, "");
			}
		}
		for (size_t i = 0; i < op->input_count; i++)
			if (strcmp(op->inputs[i].dest, in->dest) == 0)
				lerr(ld, ld->file, line, "two inputs go to \"%s\"", in->dest);
		check_rel_path(ld, line, "input dest", in->dest);
		check_refs(ld, line, &sc, "input dest", in->dest);
		check_refs(ld, line, &sc, "input version", in->version);
		slot->input_lines[op->input_count] = line;
		op->input_count++;
	}
}

static void build_operation(struct loader *ld, const char *file, const xmlNode *root)
{
	struct op_slot *slot;
	struct catalog_operation *op;
	const xmlNode *k;
	const struct catalog_param *ref;
	int line = node_line(root);
	char *display;

	ld->ops = xreallocarray(ld->ops, ld->op_count + 1, sizeof(*ld->ops));
	slot = &ld->ops[ld->op_count++];
	memset(slot, 0, sizeof(*slot));
	slot->line = line;
	op = &slot->op;
	op->file = cat_strdup(ld->own, file);
	op->path = attr(ld, root, "path");
	if (check_op_path(ld, line, op->path))
		op->name = cat_strdup(ld->own, strrchr(op->path, '/') ? strrchr(op->path, '/') + 1 : op->path);
	else
		op->name = cat_strdup(ld->own, "");
	display = attr(ld, root, "display-name");
	op->display_name = display ? display : op->name;
	k = child(root, "function");
	op->function = k ? prose(ld, k) : cat_strdup(ld->own, "");
	k = child(root, "description");
	op->description = k ? prose(ld, k) : cat_strdup(ld->own, "");
	k = child(root, "repository");
	op->repository = k ? attr(ld, k, "url") : NULL;

	build_params(ld, op, child(root, "parameters"));
	ref = catalog_ref_param(op);
	if (op->repository && !ref)
		lerr(ld, file, node_line(child(root, "repository")), "a <repository> needs a parameter "
		     "with ref=\"true\" (the tag to check out)");
	if (!op->repository && ref)
		lerr(ld, file, line, "parameter \"%s\" has ref=\"true\" but the operation has no "
		     "<repository> to check out", ref->name);
	build_stages(ld, op, child(root, "steps"));
	build_outputs(ld, op, child(root, "outputs"));
	build_inputs(ld, slot, child(root, "inputs"));
}

static void build_sequences(struct loader *ld, const char *file, const xmlNode *root)
{
	for (const xmlNode *k = root->children; k; k = k->next) {
		struct seq_slot *slot;
		size_t n;

		if (!is_elem(k, "sequence"))
			continue;
		ld->seqs = xreallocarray(ld->seqs, ld->seq_count + 1, sizeof(*ld->seqs));
		slot = &ld->seqs[ld->seq_count++];
		memset(slot, 0, sizeof(*slot));
		slot->file = cat_strdup(ld->own, file);
		slot->line = node_line(k);
		slot->seq.name = attr(ld, k, "name");
		slot->seq.description = attr_or(ld, k, "description", "");
		n = count_children(k, "op");
		slot->seq.paths = cat_alloc(ld->own, n + 1, sizeof(char *));
		slot->op_lines = cat_alloc(ld->own, n + 1, sizeof(int));
		for (const xmlNode *o = k->children; o; o = o->next) {
			if (!is_elem(o, "op"))
				continue;
			slot->op_lines[slot->seq.count] = node_line(o);
			slot->seq.paths[slot->seq.count++] = attr(ld, o, "path");
		}
	}
}

/* ---- files ------------------------------------------------------------- */

/* Read a whole regular file of at most CAT_MAX_FILE bytes into b. */
static int read_capped(struct loader *ld, const char *path, struct buf *b)
{
	int rc = fs_read_file(b, path, CAT_MAX_FILE);

	if (rc < 0) {
		lerr(ld, path, 0, "%s", error_last());
		error_clear();
		return rc == DA_ETOOBIG ? rc : DA_EINVALID;
	}
	return 0;
}

static void load_file(struct loader *ld, xmlSchemaPtr schema, const char *path)
{
	struct buf data;
	xmlParserCtxtPtr ctxt = NULL;
	xmlSchemaValidCtxtPtr vctxt = NULL;
	xmlDocPtr doc = NULL;
	const xmlNode *root;
	unsigned before = ld->error_count;

	ld->file = path;
	ld->doctype_line = 0;
	buf_init(&data, CAT_MAX_FILE);
	if (read_capped(ld, path, &data) != 0)
		goto out;

	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		fatal("catalog: out of memory");
	ctxt->_private = ld;
	ctxt->sax->internalSubset = on_doctype;
	doc = xmlCtxtReadMemory(ctxt, data.ptr ? data.ptr : "", (int)data.len, path, NULL,
				CAT_PARSE_OPTIONS);
	if (ld->doctype_line) {
		lerr(ld, path, ld->doctype_line, "<!DOCTYPE> is not allowed in a catalog file "
		     "(no DTD, no entities)");
		goto out;
	}
	if (!doc || !ctxt->wellFormed || ld->error_count != before) {
		if (ld->error_count == before)
			lerr(ld, path, 0, "not well-formed XML");
		goto out;
	}

	vctxt = xmlSchemaNewValidCtxt(schema);
	if (!vctxt)
		fatal("catalog: out of memory");
	xmlSchemaSetValidStructuredErrors(vctxt, on_xml_error, ld);
	if (xmlSchemaValidateDoc(vctxt, doc) != 0 || ld->error_count != before) {
		if (ld->error_count == before)
			lerr(ld, path, 0, "does not match the catalog schema");
		goto out;
	}

	root = xmlDocGetRootElement(doc);
	if (is_elem(root, "operation"))
		build_operation(ld, path, root);
	else
		build_sequences(ld, path, root);
out:
	xmlSchemaFreeValidCtxt(vctxt);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	buf_dispose(&data);
	ld->file = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.xml names of dir (not hidden), sorted with strcmp. */
static int list_files(struct loader *ld, const char *dir, char ***out, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	*out = NULL;
	*count = 0;
	if (!d) {
		lerr(ld, dir, 0, "cannot open catalog directory: %s", strerror(errno));
		return DA_EINVALID;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".xml") != 0)
			continue;
		if (n == CAT_MAX_FILES) {
			lerr(ld, dir, 0, "more than %d catalog files", CAT_MAX_FILES);
			break;
		}
		names = xreallocarray(names, n + 1, sizeof(char *));
		names[n++] = xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(char *), cmp_str);
	*out = names;
	*count = n;
	return 0;
}

static int cmp_slot(const void *a, const void *b)
{
	return strcmp(((const struct op_slot *)a)->op.path, ((const struct op_slot *)b)->op.path);
}

/* Checks across files, then the catalog takes the operations and sequences. */
static void finish(struct loader *ld)
{
	struct catalog *cat = &ld->own->cat;
	size_t i, j;

	if (ld->op_count)
		qsort(ld->ops, ld->op_count, sizeof(*ld->ops), cmp_slot);
	for (i = 1; i < ld->op_count; i++) {
		const struct op_slot *a = &ld->ops[i - 1], *b = &ld->ops[i];

		if (strcmp(a->op.path, b->op.path) == 0) {
			/* name the later file where the duplicate is */
			bool a_first = strcmp(a->op.file, b->op.file) <= 0;
			const struct op_slot *first = a_first ? a : b, *dup = a_first ? b : a;

			lerr(ld, dup->op.file, dup->line, "operation \"%s\" is already defined in %s:%d",
			     dup->op.path, first->op.file, first->line);
		}
	}

	cat->op_count = ld->op_count;
	cat->ops = cat_alloc(ld->own, ld->op_count + 1, sizeof(*cat->ops));
	for (i = 0; i < ld->op_count; i++)
		cat->ops[i] = ld->ops[i].op;

	for (i = 0; i < ld->op_count; i++) {
		const struct catalog_operation *op = &ld->ops[i].op;

		for (j = 0; j < op->input_count; j++) {
			const struct catalog_input *in = &op->inputs[j];
			const struct catalog_operation *from = catalog_find(cat, in->operation);
			bool has = false;

			if (!from) {
				lerr(ld, op->file, ld->ops[i].input_lines[j], "input \"%s\": no operation "
				     "\"%s\" in the catalog", in->name, in->operation);
				continue;
			}
			for (size_t k = 0; k < from->output_count; k++)
				has |= strcmp(from->outputs[k].name, in->name) == 0;
			if (!has)
				lerr(ld, op->file, ld->ops[i].input_lines[j], "input \"%s\": operation "
				     "\"%s\" has no output of that name", in->name, in->operation);
		}
	}

	cat->sequence_count = ld->seq_count;
	cat->sequences = cat_alloc(ld->own, ld->seq_count + 1, sizeof(*cat->sequences));
	for (i = 0; i < ld->seq_count; i++) {
		const struct seq_slot *s = &ld->seqs[i];

		cat->sequences[i] = s->seq;
		for (j = 0; j < i; j++)
			if (strcmp(ld->seqs[j].seq.name, s->seq.name) == 0)
				lerr(ld, s->file, s->line, "sequence \"%s\" is already defined in %s:%d",
				     s->seq.name, ld->seqs[j].file, ld->seqs[j].line);
		for (j = 0; j < s->seq.count; j++)
			if (!catalog_find(cat, s->seq.paths[j]))
				lerr(ld, s->file, s->op_lines[j], "sequence \"%s\": no operation \"%s\" "
				     "in the catalog", s->seq.name, s->seq.paths[j]);
	}
}

static xmlSchemaPtr load_schema(struct loader *ld)
{
	xmlSchemaParserCtxtPtr pctxt;
	xmlSchemaPtr schema;

	ld->file = "catalog.xsd (built in)";
	pctxt = xmlSchemaNewMemParserCtxt((const char *)catalog__xsd, (int)catalog__xsd_len);
	if (!pctxt)
		fatal("catalog: out of memory");
	xmlSchemaSetParserStructuredErrors(pctxt, on_xml_error, ld);
	schema = xmlSchemaParse(pctxt);
	xmlSchemaFreeParserCtxt(pctxt);
	if (!schema && !ld->error_count)
		lerr(ld, ld->file, 0, "the built-in schema does not compile");
	ld->file = NULL;
	return schema;
}

int catalog_load(struct catalog **out, const char *dir)
{
	struct loader ld;
	xmlSchemaPtr schema = NULL;
	char **files = NULL;
	size_t nfiles = 0, i;
	xmlStructuredErrorFunc old_serror = xmlStructuredError;
	void *old_sctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc old_generic = xmlGenericError;
	void *old_gctx = xmlGenericErrorContext;
	int rc = DA_EINVALID;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.own = xcalloc(1, sizeof(*ld.own));
	buf_init(&ld.errors, 64 * 1024);

	xmlInitParser();
	xmlSetStructuredErrorFunc(&ld, on_xml_error);
	xmlSetGenericErrorFunc(&ld, on_xml_generic);

	if (list_files(&ld, dir, &files, &nfiles) != 0)
		goto out;
	if (!nfiles) {
		if (!ld.error_count)
			lerr(&ld, dir, 0, "no catalog files (*.xml) in this directory");
		goto out;
	}
	schema = load_schema(&ld);
	if (!schema)
		goto out;
	for (i = 0; i < nfiles; i++)
		load_file(&ld, schema, files[i]);
	if (!ld.op_count && !ld.error_count)
		lerr(&ld, dir, 0, "no <operation> in the catalog");
	if (!ld.error_count)
		finish(&ld);
	if (!ld.error_count) {
		*out = &ld.own->cat;
		ld.own = NULL; /* the caller owns it now */
		rc = 0;
	}
out:
	xmlSetStructuredErrorFunc(old_sctx, old_serror);
	xmlSetGenericErrorFunc(old_gctx, old_generic);
	xmlSchemaFree(schema);
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(ld.ops);
	free(ld.seqs);
	if (rc != 0)
		error_set("%s", buf_cstr(&ld.errors));
	buf_dispose(&ld.errors);
	catalog_free(ld.own ? &ld.own->cat : NULL);
	return rc;
}

void catalog_free(struct catalog *cat)
{
	struct cat_owner *o = (struct cat_owner *)cat;
	struct cat_mem *m, *next;

	if (!cat)
		return;
	for (m = o->mem; m; m = next) {
		next = m->next;
		free(m);
	}
	free(o);
}

/* ---- lookups --------------------------------------------------------------- */

const struct catalog_operation *catalog_find(const struct catalog *cat, const char *path)
{
	size_t lo = 0, hi = cat->op_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(cat->ops[mid].path, path);

		if (c == 0)
			return &cat->ops[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct catalog_operation *catalog_match(const struct catalog *cat, const char *path,
					      char **env_out)
{
	const struct catalog_operation *op;

	*env_out = NULL;
	op = catalog_find(cat, path);
	if (op && !jobpath_has_env(op->path))
		return op; /* an exact path wins over a pattern */
	for (size_t i = 0; i < cat->op_count; i++) {
		char *env = NULL;

		if (!jobpath_has_env(cat->ops[i].path) ||
		    !jobpath_match(cat->ops[i].path, path, &env))
			continue;
		if (env && jobpath_segment_is_valid(env)) {
			*env_out = env;
			return &cat->ops[i];
		}
		free(env);
	}
	return NULL;
}

const struct catalog_param *catalog_ref_param(const struct catalog_operation *op)
{
	for (size_t i = 0; i < op->param_count; i++)
		if (op->params[i].is_ref)
			return &op->params[i];
	return NULL;
}

const struct catalog_param *catalog_param_find(const struct catalog_operation *op, const char *name)
{
	return param_named(op, name, strlen(name));
}

const struct catalog_sequence *catalog_sequence_find(const struct catalog *cat, const char *name)
{
	for (size_t i = 0; i < cat->sequence_count; i++)
		if (strcmp(cat->sequences[i].name, name) == 0)
			return &cat->sequences[i];
	return NULL;
}
