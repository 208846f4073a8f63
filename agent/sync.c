/*
 * sync.c - `dataops-agent sync`: folders, trigger jobs, -runs jobs and the
 * node in Jenkins, from the catalog (see sync.h).
 *
 * Three layers:
 *   1. generators: the config.xml of each item (pure, strings in, string out);
 *   2. the comparison and the merge: both documents parsed with libxml2 (no
 *      network, no entity substitution, a DOCTYPE refused before its subset
 *      is read) and reduced to the fields sync manages, so that Jenkins'
 *      re-serialization (XML 1.1 declaration, <a/> for <a></a>, indentation,
 *      added defaults, another form of a choice list) is no difference;
 *   3. the plan and its execution: folders first, parents before children,
 *      then per operation its trigger job and its -runs job, then the node.
 *      An item that fails is reported and the items below it skipped; an
 *      unreachable Jenkins or a refused token stops everything.
 */
#include "sync.h"
#include "scheduler.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "buf.h"
#include "error.h"
#include "jobpath.h"
#include "log.h"
#include "xmalloc.h"
#include "xmltext.h"

#define SYNC_XML_DECL "<?xml version='1.0' encoding='UTF-8'?>\n"
#define SYNC_XML_MAX (16u << 20)     /* a generated config; the catalog caps its texts far below */
#define SYNC_CONFIG_MAX (8u << 20)   /* a config.xml read from Jenkins */
#define SYNC_PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOERROR | \
			    XML_PARSE_NOWARNING)
#define SYNC_MANAGED "Managed by dataops-agent sync: changes made here are overwritten."
#define SYNC_GUARD "echo 'This job must be claimed by a dataops-agent; a Jenkins executor " \
	"took it by mistake, so it fails here.' >&2\nexit 1"

#if LIBXML_VERSION >= 21200
typedef const xmlError *sync_xml_error;
#else
typedef xmlError *sync_xml_error;
#endif

/* ------------------------------------------------------------ generators */

static void put(struct buf *b, const char *s)
{
	if (buf_puts(b, s) != 0)
		fatal("sync: generated config.xml larger than %u bytes", SYNC_XML_MAX);
}

static void put_text(struct buf *b, const char *s)
{
	if (xml_text_put(b, s ? s : "") != 0)
		fatal("sync: generated config.xml larger than %u bytes", SYNC_XML_MAX);
}

/* indent<tag>text</tag>\n */
static void put_el(struct buf *b, const char *indent, const char *tag, const char *text)
{
	put(b, indent);
	put(b, "<");
	put(b, tag);
	put(b, ">");
	put_text(b, text);
	put(b, "</");
	put(b, tag);
	put(b, ">\n");
}

/* "../<name, URL-encoded>/": a sibling's page, relative to a job's page. */
static char *sync_sibling_href(const char *name)
{
	char *path = jenkins_item_url_path(name); /* "/job/<encoded>" */
	char *href = xasprintf("..%s/", path + strlen("/job"));

	free(path);
	return href;
}

/* A label as a label expression: quoted unless it is a plain atom. */
static char *sync_label_expr(const char *label)
{
	struct buf b = BUF_INIT_MAX(SYNC_XML_MAX);
	bool plain = *label != '\0';

	for (const char *c = label; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			plain = false;
	if (plain)
		return xstrdup(label);
	put(&b, "\"");
	for (const char *c = label; *c; c++) {
		if (*c == '"' || *c == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, *c);
	}
	put(&b, "\"");
	return buf_detach(&b);
}

/* The seeds' wording when it is not just the name; NULL otherwise. Borrowed. */
static const char *sync_display_name(const struct catalog_operation *op)
{
	if (op->display_name == NULL || op->display_name[0] == '\0' ||
	    strcmp(op->display_name, op->name) == 0)
		return NULL;
	return op->display_name;
}

char *sync_folder_xml(const char *full_name)
{
	struct buf b = BUF_INIT_MAX(SYNC_XML_MAX);
	char *desc = xasprintf("Data Pipeline operations (%s), run by dataops-agent. "
			       "Created by dataops-agent sync.", full_name);

	put(&b, SYNC_XML_DECL "<com.cloudbees.hudson.plugins.folder.Folder>\n  <actions/>\n");
	put_el(&b, "  ", "description", desc);
	put(&b, "  <properties/>\n  <folderViews/>\n  <healthMetrics/>\n"
	    "</com.cloudbees.hudson.plugins.folder.Folder>\n");
	free(desc);
	return buf_detach(&b);
}

static char *sync_trigger_description(const struct sync_job_spec *spec)
{
	const struct catalog_operation *op = spec->op;
	struct buf b = BUF_INIT_MAX(SYNC_XML_MAX);
	char *runs = jobpath_runs_job(op->name);
	char *href = sync_sibling_href(runs);

	if (op->function && op->function[0])
		buf_printf(&b, "%s\n", op->function);
	if (op->description && op->description[0] &&
	    !(op->function && strcmp(op->function, op->description) == 0))
		buf_printf(&b, "%s\n", op->description);
	if (b.len)
		put(&b, "\n");
	buf_printf(&b, "Build with Parameters queues a run of %s for a dataops-agent (label %s), "
		   "which claims it and records it, with its live log, in <a href=\"%s\">%s</a>.\n",
		   spec->full_name, spec->label, href, runs);
	put(&b, SYNC_MANAGED);
	free(href);
	free(runs);
	return buf_detach(&b);
}

/* The cancel request parameter of every trigger job (scheduler.h). */
static const struct catalog_param sync_cancel_param = {
	.name = SCHEDULER_CANCEL_PARAM,
	.default_value = "",
	.description = "To cancel a run of this job instead of starting one: its queue id, the "
		       "number after # in the run's name in the runs job. Leave it empty to run "
		       "the job.",
};

/* One parameter definition; secret parameters are not Jenkins parameters. */
static void sync_put_param(struct buf *b, const struct catalog_param *p)
{
	if (p->choices == NULL) {
		put(b, "        <hudson.model.StringParameterDefinition>\n");
		put_el(b, "          ", "name", p->name);
		put_el(b, "          ", "description", p->description);
		put_el(b, "          ", "defaultValue", p->default_value);
		put(b, "          <trim>true</trim>\n        </hudson.model.StringParameterDefinition>\n");
		return;
	}
	/* Jenkins offers the first choice by default: the catalog's default goes first. */
	put(b, "        <hudson.model.ChoiceParameterDefinition>\n");
	put_el(b, "          ", "name", p->name);
	put_el(b, "          ", "description", p->description);
	put(b, "          <choices class=\"java.util.Arrays$ArrayList\">\n"
	    "            <a class=\"string-array\">\n");
	if (p->default_value && p->default_value[0])
		for (char **c = p->choices; *c; c++)
			if (strcmp(*c, p->default_value) == 0)
				put_el(b, "              ", "string", *c);
	for (char **c = p->choices; *c; c++)
		if (!(p->default_value && strcmp(*c, p->default_value) == 0))
			put_el(b, "              ", "string", *c);
	put(b, "            </a>\n          </choices>\n"
	    "        </hudson.model.ChoiceParameterDefinition>\n");
}

char *sync_trigger_xml(const struct sync_job_spec *spec)
{
	const struct catalog_operation *op = spec->op;
	struct buf b = BUF_INIT_MAX(SYNC_XML_MAX);
	char *desc = sync_trigger_description(spec);
	char *label = sync_label_expr(spec->label);

	put(&b, SYNC_XML_DECL "<project>\n  <actions/>\n");
	put_el(&b, "  ", "description", desc);
	if (sync_display_name(op))
		put_el(&b, "  ", "displayName", sync_display_name(op));
	put(&b, "  <keepDependencies>false</keepDependencies>\n"
	    "  <properties>\n    <hudson.model.ParametersDefinitionProperty>\n"
	    "      <parameterDefinitions>\n");
	for (size_t i = 0; i < op->param_count; i++)
		if (!op->params[i].secret)
			sync_put_param(&b, &op->params[i]);
	/* Every trigger job takes cancel requests, whatever its own parameters (scheduler.h). */
	sync_put_param(&b, &sync_cancel_param);
	put(&b, "      </parameterDefinitions>\n    </hudson.model.ParametersDefinitionProperty>\n"
	    "  </properties>\n");
	put(&b, "  <scm class=\"hudson.scm.NullSCM\"/>\n"
	    "  <quietPeriod>0</quietPeriod>\n"
	    "  <canRoam>false</canRoam>\n");
	put_el(&b, "  ", "assignedNode", label);
	put(&b, "  <disabled>false</disabled>\n"
	    "  <blockBuildWhenDownstreamBuilding>false</blockBuildWhenDownstreamBuilding>\n"
	    "  <blockBuildWhenUpstreamBuilding>false</blockBuildWhenUpstreamBuilding>\n"
	    "  <triggers/>\n"
	    "  <concurrentBuild>true</concurrentBuild>\n"
	    "  <builders>\n    <hudson.tasks.Shell>\n");
	put_el(&b, "      ", "command", SYNC_GUARD);
	put(&b, "    </hudson.tasks.Shell>\n  </builders>\n  <publishers/>\n  <buildWrappers/>\n"
	    "</project>\n");
	free(label);
	free(desc);
	return buf_detach(&b);
}

char *sync_runs_xml(const struct sync_job_spec *spec)
{
	const struct catalog_operation *op = spec->op;
	struct buf b = BUF_INIT_MAX(SYNC_XML_MAX);
	struct buf desc = BUF_INIT_MAX(SYNC_XML_MAX);
	char *href = sync_sibling_href(op->name);
	const char *display = sync_display_name(op);

	buf_printf(&desc, "Runs of <a href=\"%s\">%s</a>, recorded by dataops-agent with their "
		   "live logs. Each run's description names the queue item, the user who "
		   "triggered it, the tag, the commit and the agent.\n" SYNC_MANAGED,
		   href, spec->full_name);
	put(&b, SYNC_XML_DECL "<hudson.model.ExternalJob>\n  <actions/>\n");
	put_el(&b, "  ", "description", buf_cstr(&desc));
	if (display) {
		char *dn = xasprintf("%s runs", display);
		put_el(&b, "  ", "displayName", dn);
		free(dn);
	}
	put(&b, "  <keepDependencies>false</keepDependencies>\n  <properties/>\n"
	    "</hudson.model.ExternalJob>\n");
	buf_dispose(&desc);
	free(href);
	return buf_detach(&b);
}

char *sync_node_description(const char *host)
{
	/* The very words of the agent command's registration (scheduler.c): the two must agree. */
	return xasprintf("dataops-agent %s on %s", DA_VERSION, host);
}

/* ------------------------------------------------- parsing and comparing */

enum sync_kind { SYNC_K_OTHER, SYNC_K_FOLDER, SYNC_K_FREESTYLE, SYNC_K_EXTERNAL, SYNC_K_NODE };

static enum sync_kind sync_kind_of(const xmlNode *root)
{
	static const struct { const char *tag; enum sync_kind kind; } kinds[] = {
		{ "com.cloudbees.hudson.plugins.folder.Folder", SYNC_K_FOLDER },
		{ "project", SYNC_K_FREESTYLE },                 /* XStream alias of FreeStyleProject */
		{ "hudson.model.FreeStyleProject", SYNC_K_FREESTYLE },
		{ "hudson.model.ExternalJob", SYNC_K_EXTERNAL },
		{ "slave", SYNC_K_NODE },                        /* alias of DumbSlave */
		{ "hudson.slaves.DumbSlave", SYNC_K_NODE },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp((const char *)root->name, kinds[i].tag) == 0)
			return kinds[i].kind;
	return SYNC_K_OTHER;
}

static const char *sync_kind_name(enum sync_kind k)
{
	switch (k) {
	case SYNC_K_OTHER:
		return "an item of another kind";
	case SYNC_K_FOLDER:
		return "a folder";
	case SYNC_K_FREESTYLE:
		return "a FreeStyle project";
	case SYNC_K_EXTERNAL:
		return "an External Job";
	case SYNC_K_NODE:
		return "a permanent agent (DumbSlave)";
	}
	return "?";
}

struct sync_parse {
	char msg[256];
	int line;
	bool doctype;
};

static void sync_on_xml_error(void *data, sync_xml_error e)
{
	struct sync_parse *p = data;
	size_t n;

	if (p == NULL || e == NULL || e->level == XML_ERR_WARNING || p->msg[0])
		return;
	snprintf(p->msg, sizeof(p->msg), "%s", e->message ? e->message : "XML error");
	n = strlen(p->msg);
	while (n && (p->msg[n - 1] == '\n' || p->msg[n - 1] == ' '))
		p->msg[--n] = '\0';
	p->line = e->line;
}

static void sync_on_xml_generic(void *data, const char *fmt, ...)
{
	(void)data;
	(void)fmt;
}

/* SAX hook: <!DOCTYPE ...>. Stop before its subset is read. */
static void sync_on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
			    const xmlChar *sys_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct sync_parse *p = ctxt->_private;

	(void)name;
	(void)ext_id;
	(void)sys_id;
	p->doctype = true;
	xmlStopParser(ctxt);
}

/* Parse a config.xml; what names it in errors ("Jenkins' config.xml"). */
static int sync_parse(xmlDocPtr *out, const char *xml, size_t len, const char *what)
{
	struct sync_parse p = { { 0 }, 0, false };
	xmlStructuredErrorFunc old_serror = xmlStructuredError;
	void *old_sctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc old_generic = xmlGenericError;
	void *old_gctx = xmlGenericErrorContext;
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int rc = 0;

	*out = NULL;
	if (len > SYNC_CONFIG_MAX) {
		error_set("%s is larger than %u bytes", what, SYNC_CONFIG_MAX);
		return DA_ETOOBIG;
	}
	xmlInitParser();
	xmlSetStructuredErrorFunc(&p, sync_on_xml_error);
	xmlSetGenericErrorFunc(&p, sync_on_xml_generic);
	ctxt = xmlNewParserCtxt();
	if (ctxt == NULL)
		fatal("sync: out of memory");
	ctxt->_private = &p;
	ctxt->sax->internalSubset = sync_on_doctype;
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL, SYNC_PARSE_OPTIONS);
	if (p.doctype) {
		error_set("%s has a DOCTYPE; dataops-agent reads no DTD or entity", what);
		rc = DA_EINVALID;
	} else if (doc == NULL || !ctxt->wellFormed || xmlDocGetRootElement(doc) == NULL) {
		error_set("%s is not well-formed XML (line %d: %s)", what, p.line,
			  p.msg[0] ? p.msg : "no root element");
		rc = DA_EINVALID;
	}
	xmlFreeParserCtxt(ctxt);
	xmlSetStructuredErrorFunc(old_sctx, old_serror);
	xmlSetGenericErrorFunc(old_gctx, old_generic);
	if (rc != 0) {
		xmlFreeDoc(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

static bool sync_is_el(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && (name == NULL ||
						   strcmp((const char *)n->name, name) == 0);
}

/* The first element child called name, or NULL. */
static xmlNode *sync_child(const xmlNode *parent, const char *name)
{
	if (parent == NULL)
		return NULL;
	for (xmlNode *c = parent->children; c; c = c->next)
		if (sync_is_el(c, name))
			return c;
	return NULL;
}

/* The element at a "a/b/c" path below root, or NULL. */
static xmlNode *sync_find(xmlNode *root, const char *path)
{
	xmlNode *n = root;
	const char *p = path;

	while (n && *p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char *seg = xstrndup(p, len);

		n = sync_child(n, seg);
		free(seg);
		p += len;
		if (*p == '/')
			p++;
	}
	return n;
}

/* Append the text of n, surrounding whitespace trimmed ("" for NULL). */
static void sync_put_content(struct buf *b, const xmlNode *n)
{
	xmlChar *c = n ? xmlNodeGetContent(n) : NULL;
	const char *s = c ? (const char *)c : "";
	size_t len;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
		       s[len - 1] == '\r'))
		len--;
	if (buf_put(b, s, len) != 0)
		fatal("sync: a config field larger than %u bytes", SYNC_XML_MAX);
	xmlFree(c);
}

enum sync_how { HOW_TEXT, HOW_WORDS, HOW_CLASS, HOW_PARAMS, HOW_BUILDERS };

struct sync_field {
	const char *reason;
	const char *path;
	enum sync_how how;
};

static const struct sync_field sync_trigger_fields[] = {
	{ "description", "description", HOW_TEXT },
	{ "display name", "displayName", HOW_TEXT },
	{ "parameters", "properties/hudson.model.ParametersDefinitionProperty/parameterDefinitions",
	  HOW_PARAMS },
	{ "label", "canRoam", HOW_TEXT },
	{ "label", "assignedNode", HOW_TEXT },
	{ "quiet period", "quietPeriod", HOW_TEXT },
	{ "concurrent builds", "concurrentBuild", HOW_TEXT },
	{ "guard", "builders", HOW_BUILDERS },
	{ NULL, NULL, HOW_TEXT },
};

static const struct sync_field sync_runs_fields[] = {
	{ "description", "description", HOW_TEXT },
	{ "display name", "displayName", HOW_TEXT },
	{ NULL, NULL, HOW_TEXT },
};

static const struct sync_field sync_node_fields[] = {
	{ "description", "description", HOW_TEXT },
	{ "executors", "numExecutors", HOW_TEXT },
	{ "mode", "mode", HOW_TEXT },
	{ "labels", "label", HOW_WORDS },
	{ "remote FS", "remoteFS", HOW_TEXT },
	{ "launcher", "launcher", HOW_CLASS },
	{ "availability", "retentionStrategy", HOW_CLASS },
	{ NULL, NULL, HOW_TEXT },
};

static int sync_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The words of n's text, sorted, one space apart. */
static void sync_put_words(struct buf *b, const xmlNode *n)
{
	struct buf text = BUF_INIT_MAX(SYNC_XML_MAX);
	char **words = NULL, *save = NULL, *w;
	size_t count = 0;

	sync_put_content(&text, n);
	if (text.len == 0) {
		buf_dispose(&text);
		return;
	}
	for (w = strtok_r(text.ptr, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
		words = xreallocarray(words, count + 1, sizeof(*words));
		words[count++] = w;
	}
	qsort(words, count, sizeof(*words), sync_cmp_str);
	for (size_t i = 0; i < count; i++) {
		if (i)
			put(b, " ");
		put(b, words[i]);
	}
	free(words);
	buf_dispose(&text);
}

/* Every <string> below n, in document order, \x1e after each. */
static void sync_put_strings(struct buf *b, const xmlNode *n)
{
	for (const xmlNode *c = n ? n->children : NULL; c; c = c->next) {
		if (!sync_is_el(c, NULL))
			continue;
		if (strcmp((const char *)c->name, "string") == 0) {
			sync_put_content(b, c);
			put(b, "\x1e");
		} else {
			sync_put_strings(b, c);
		}
	}
}

/*
 * The parameters as one canonical string: per definition its class, name,
 * description, default, trim and choices (however the choice list is
 * serialized: every <string> below <choices>).
 */
static void sync_put_params(struct buf *b, const xmlNode *defs)
{
	for (const xmlNode *d = defs ? defs->children : NULL; d; d = d->next) {
		const xmlNode *trim;

		if (!sync_is_el(d, NULL))
			continue;
		put(b, (const char *)d->name);
		put(b, "\x1f");
		sync_put_content(b, sync_child(d, "name"));
		put(b, "\x1f");
		sync_put_content(b, sync_child(d, "description"));
		put(b, "\x1f");
		sync_put_content(b, sync_child(d, "defaultValue"));
		put(b, "\x1f");
		trim = sync_child(d, "trim");
		if (trim)
			sync_put_content(b, trim);
		put(b, "\x1f");
		sync_put_strings(b, sync_child(d, "choices"));
		put(b, "\x1d");
	}
}

/* The build steps as one canonical string: class and command of each. */
static void sync_put_builders(struct buf *b, const xmlNode *builders)
{
	for (const xmlNode *s = builders ? builders->children : NULL; s; s = s->next) {
		if (!sync_is_el(s, NULL))
			continue;
		put(b, (const char *)s->name);
		put(b, "\x1f");
		sync_put_content(b, sync_child(s, "command"));
		put(b, "\x1d");
	}
}

static void sync_field_value(struct buf *b, xmlNode *root, const struct sync_field *f)
{
	const xmlNode *n = sync_find(root, f->path);
	xmlChar *cls;

	switch (f->how) {
	case HOW_TEXT:
		sync_put_content(b, n);
		break;
	case HOW_WORDS:
		sync_put_words(b, n);
		break;
	case HOW_CLASS:
		cls = n ? xmlGetProp(n, (const xmlChar *)"class") : NULL;
		put(b, cls ? (const char *)cls : "");
		xmlFree(cls);
		break;
	case HOW_PARAMS:
		sync_put_params(b, n);
		break;
	case HOW_BUILDERS:
		sync_put_builders(b, n);
		break;
	}
}

static const struct sync_field *sync_fields_of(enum sync_kind k)
{
	switch (k) {
	case SYNC_K_FREESTYLE:
		return sync_trigger_fields;
	case SYNC_K_EXTERNAL:
		return sync_runs_fields;
	case SYNC_K_NODE:
		return sync_node_fields;
	case SYNC_K_FOLDER:
	case SYNC_K_OTHER:
		break;
	}
	return NULL;
}

/* Parse want and have; DA_ECONFLICT when have is of another kind. */
static int sync_parse_pair(xmlDocPtr *want_doc, xmlDocPtr *have_doc, enum sync_kind *kind,
			   const char *want, const char *have, size_t have_len)
{
	enum sync_kind wk, hk;
	int rc;

	*want_doc = *have_doc = NULL;
	rc = sync_parse(want_doc, want, strlen(want), "the generated config.xml");
	if (rc != 0)
		return rc;
	rc = sync_parse(have_doc, have, have_len, "Jenkins' config.xml");
	if (rc != 0)
		return rc;
	wk = sync_kind_of(xmlDocGetRootElement(*want_doc));
	hk = sync_kind_of(xmlDocGetRootElement(*have_doc));
	if (wk != hk) {
		error_set("it is %s (<%.100s>), not %s", sync_kind_name(hk),
			  (const char *)xmlDocGetRootElement(*have_doc)->name, sync_kind_name(wk));
		return DA_ECONFLICT;
	}
	*kind = wk;
	return 0;
}

int sync_config_diff(char **out, const char *want, const char *have, size_t have_len)
{
	xmlDocPtr wd = NULL, hd = NULL;
	struct buf reasons = BUF_INIT_MAX(4096);
	enum sync_kind kind = SYNC_K_OTHER;
	const struct sync_field *fields;
	const char *named = NULL;       /* the reason named last */
	int rc;

	*out = NULL;
	rc = sync_parse_pair(&wd, &hd, &kind, want, have, have_len);
	if (rc != 0)
		goto out;
	fields = sync_fields_of(kind);
	for (size_t i = 0; fields && fields[i].reason; i++) {
		struct buf a = BUF_INIT_MAX(SYNC_XML_MAX), b = BUF_INIT_MAX(SYNC_XML_MAX);

		sync_field_value(&a, xmlDocGetRootElement(wd), &fields[i]);
		sync_field_value(&b, xmlDocGetRootElement(hd), &fields[i]);
		/* Name each reason once: the fields that share one ("label") are adjacent. */
		if (strcmp(buf_cstr(&a), buf_cstr(&b)) != 0 &&
		    (named == NULL || strcmp(named, fields[i].reason) != 0)) {
			if (named)
				buf_puts(&reasons, ", ");
			buf_puts(&reasons, fields[i].reason);
			named = fields[i].reason;
		}
		buf_dispose(&a);
		buf_dispose(&b);
	}
	if (reasons.len)
		*out = buf_detach(&reasons);
out:
	buf_dispose(&reasons);
	xmlFreeDoc(wd);
	xmlFreeDoc(hd);
	return rc;
}

/* Put a copy of have's element name in place of want's (added when want has none). */
static void sync_carry(xmlDocPtr wd, xmlNode *wroot, const xmlNode *hroot, const char *name)
{
	xmlNode *h = sync_child(hroot, name), *w = sync_child(wroot, name), *copy;

	if (h == NULL)
		return;
	copy = xmlDocCopyNode(h, wd, 1);
	if (copy == NULL)
		fatal("sync: out of memory");
	if (w) {
		xmlReplaceNode(w, copy);
		xmlFreeNode(w);
	} else {
		xmlAddChild(wroot, copy);
	}
}

/* Copy into want's <properties> every property of have that sync does not manage. */
static void sync_carry_properties(xmlDocPtr wd, xmlNode *wroot, const xmlNode *hroot)
{
	xmlNode *wp = sync_child(wroot, "properties");
	xmlNode *hp = sync_child(hroot, "properties");

	if (hp == NULL)
		return;
	if (wp == NULL)
		wp = xmlNewChild(wroot, NULL, (const xmlChar *)"properties", NULL);
	for (xmlNode *p = hp->children; p; p = p->next) {
		xmlNode *copy;

		if (!sync_is_el(p, NULL) ||
		    strcmp((const char *)p->name, "hudson.model.ParametersDefinitionProperty") == 0)
			continue;
		copy = xmlDocCopyNode(p, wd, 1);
		if (copy == NULL)
			fatal("sync: out of memory");
		xmlAddChild(wp, copy);
	}
}

int sync_config_merge(char **out, const char *want, const char *have, size_t have_len)
{
	xmlDocPtr wd = NULL, hd = NULL;
	enum sync_kind kind = SYNC_K_OTHER;
	xmlNode *wroot, *hroot;
	xmlChar *mem = NULL;
	int size = 0, rc;

	*out = NULL;
	rc = sync_parse_pair(&wd, &hd, &kind, want, have, have_len);
	if (rc != 0)
		goto out;
	wroot = xmlDocGetRootElement(wd);
	hroot = xmlDocGetRootElement(hd);
	switch (kind) {
	case SYNC_K_FREESTYLE: {
		/* An administrator's "Disable Project" stays. */
		xmlNode *hdis = sync_child(hroot, "disabled"), *wdis = sync_child(wroot, "disabled");
		xmlChar *v = hdis ? xmlNodeGetContent(hdis) : NULL;

		if (v && wdis && strcmp((const char *)v, "true") == 0)
			xmlNodeSetContent(wdis, (const xmlChar *)"true");
		xmlFree(v);
		sync_carry_properties(wd, wroot, hroot);
		break;
	}
	case SYNC_K_EXTERNAL:
		sync_carry_properties(wd, wroot, hroot);
		break;
	case SYNC_K_NODE:
		/* Posting without the cause brings the node back online (>= 2.482, §2.4). */
		sync_carry(wd, wroot, hroot, "nodeProperties");
		sync_carry(wd, wroot, hroot, "temporaryOfflineCause");
		break;
	case SYNC_K_FOLDER:
	case SYNC_K_OTHER:
		break;
	}
	xmlDocDumpMemoryEnc(wd, &mem, &size, "UTF-8");
	if (mem == NULL)
		fatal("sync: out of memory");
	*out = xstrndup((const char *)mem, (size_t)size);
	xmlFree(mem);
out:
	xmlFreeDoc(wd);
	xmlFreeDoc(hd);
	return rc;
}

/* ------------------------------------------------------------ the plan */

enum sync_item_kind { SYNC_FOLDER, SYNC_TRIGGER, SYNC_RUNS };

struct sync_item {
	enum sync_item_kind kind;
	char *full_name;
	const struct catalog_operation *op;
	bool failed;            /* failed or skipped: what is below it is skipped */
};

enum sync_outcome { SYNC_UNCHANGED, SYNC_CREATED, SYNC_UPDATED };

struct sync {
	const struct sync_opts *o;
	struct jenkins *j;
	const char *label;
	struct sync_item *items;
	size_t count;
	size_t outcomes[3];     /* items per enum sync_outcome */
	size_t errors, skipped;
};

static const char *sync_item_noun(enum sync_item_kind k)
{
	switch (k) {
	case SYNC_FOLDER:
		return "folder";
	case SYNC_TRIGGER:
		return "job";
	case SYNC_RUNS:
		return "runs job";
	}
	return "?";
}

static bool sync_has_folder(const struct sync *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->items[i].kind == SYNC_FOLDER && strcmp(s->items[i].full_name, name) == 0)
			return true;
	return false;
}

static void sync_add(struct sync *s, enum sync_item_kind kind, char *full_name,
		     const struct catalog_operation *op)
{
	s->items = xreallocarray(s->items, s->count + 1, sizeof(*s->items));
	s->items[s->count].kind = kind;
	s->items[s->count].full_name = full_name; /* the plan owns it now */
	s->items[s->count].op = op;
	s->items[s->count].failed = false;
	s->count++;
}

/* Every folder of path, parents first, each once. */
static void sync_add_folders(struct sync *s, const char *path)
{
	for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
		char *folder = xstrndup(path, (size_t)(slash - path));

		if (sync_has_folder(s, folder))
			free(folder);
		else
			sync_add(s, SYNC_FOLDER, folder, NULL);
	}
}

/* How many concrete paths op has: one per served environment when its path has {env}. */
static size_t sync_path_count(const struct config *cfg, const struct catalog_operation *op)
{
	return jobpath_has_env(op->path) ? cfg->agent.env_count : 1;
}

/* The e-th concrete path of op (new string). */
static char *sync_path(const struct config *cfg, const struct catalog_operation *op, size_t e)
{
	return jobpath_has_env(op->path) ? jobpath_expand(op->path, cfg->agent.envs[e]) :
		xstrdup(op->path);
}

/* The items of the catalog: every folder first, then each trigger job before its runs job. */
static void sync_plan(struct sync *s)
{
	const struct catalog *cat = s->o->cat;
	const struct config *cfg = s->o->cfg;
	size_t unserved = 0;

	for (size_t i = 0; i < cat->op_count; i++) {
		unserved += sync_path_count(cfg, &cat->ops[i]) == 0;
		for (size_t e = 0; e < sync_path_count(cfg, &cat->ops[i]); e++) {
			char *path = sync_path(cfg, &cat->ops[i], e);

			sync_add_folders(s, path);
			free(path);
		}
	}
	for (size_t i = 0; i < cat->op_count; i++) {
		for (size_t e = 0; e < sync_path_count(cfg, &cat->ops[i]); e++) {
			char *path = sync_path(cfg, &cat->ops[i], e);

			sync_add(s, SYNC_TRIGGER, path, &cat->ops[i]);
			sync_add(s, SYNC_RUNS, jobpath_runs_job(path), &cat->ops[i]);
		}
	}
	if (unserved)
		log_warn("%s: [agent] envs is empty: the %zu operations whose path has {env} are "
			 "not synced", cfg->path ? cfg->path : "the configuration", unserved);
}

/* ----------------------------------------------------------- execution */

/* One line per item: "created folder Deploy", "update job X (parameters)" in a dry run. */
static void sync_report(FILE *out, bool dry_run, enum sync_outcome what, const char *noun,
			const char *name, const char *why)
{
	static const char *const verbs[][2] = {
		[SYNC_UNCHANGED] = { "unchanged", "unchanged" },
		[SYNC_CREATED] = { "create", "created" },
		[SYNC_UPDATED] = { "update", "updated" },
	};

	if (out == NULL)
		return;
	fprintf(out, "%s %s %s", verbs[what][dry_run ? 0 : 1], noun, name);
	if (why)
		fprintf(out, " (%s)", why);
	fputc('\n', out);
	fflush(out);
}

/* An item is in place: report and count it. */
static void sync_done(struct sync *s, enum sync_outcome what, const struct sync_item *it,
		      const char *why)
{
	sync_report(s->o->out, s->o->dry_run, what, sync_item_noun(it->kind), it->full_name, why);
	s->outcomes[what]++;
}

/* An error that makes every further request pointless. */
static bool sync_fatal(int rc)
{
	return rc == DA_EAUTH || rc == DA_ERETRY || rc == DA_ETIMEOUT;
}

/* The failed folder above name, or NULL. Borrowed. */
static const char *sync_failed_parent(const struct sync *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++) {
		const char *parent = s->items[i].full_name;
		size_t n = strlen(parent);

		if (s->items[i].failed && strncmp(name, parent, n) == 0 && name[n] == '/')
			return parent;
	}
	return NULL;
}

static char *sync_want(const struct sync *s, const struct sync_item *it)
{
	struct sync_job_spec spec = { it->op, it->full_name, s->label };
	char *trigger, *xml = NULL;

	switch (it->kind) {
	case SYNC_FOLDER:
		xml = sync_folder_xml(it->full_name);
		break;
	case SYNC_TRIGGER:
		xml = sync_trigger_xml(&spec);
		break;
	case SYNC_RUNS:
		/* The runs job of "F/NAME" is "F/NAME-runs": the spec names the trigger. */
		trigger = xstrndup(it->full_name, strlen(it->full_name) - strlen("-runs"));
		spec.full_name = trigger;
		xml = sync_runs_xml(&spec);
		free(trigger);
		break;
	}
	return xml;
}

/* Compare an existing item with want, and update it when a managed field differs. */
static int sync_existing(struct sync *s, const struct sync_item *it, const char *want,
			 const struct buf *have)
{
	const char *noun = sync_item_noun(it->kind);
	char *why = NULL, *merged = NULL;
	int rc;

	rc = sync_config_diff(&why, want, buf_cstr(have), have->len);
	if (rc != 0) {
		error_prefix("%s %s: ", noun, it->full_name);
		return rc;
	}
	/* A folder that exists is left alone: it may hold what is not ours. */
	if (why == NULL || it->kind == SYNC_FOLDER) {
		sync_done(s, SYNC_UNCHANGED, it, NULL);
		free(why);
		return 0;
	}
	if (!s->o->dry_run) {
		rc = sync_config_merge(&merged, want, buf_cstr(have), have->len);
		if (rc == 0)
			rc = jenkins_item_update(s->j, it->full_name, merged);
		else
			error_prefix("%s %s: ", noun, it->full_name);
	}
	if (rc == 0)
		sync_done(s, SYNC_UPDATED, it, why);
	free(merged);
	free(why);
	return rc;
}

static int sync_item(struct sync *s, const struct sync_item *it)
{
	const char *noun = sync_item_noun(it->kind);
	struct buf have = BUF_INIT_MAX(SYNC_CONFIG_MAX);
	char *want = sync_want(s, it);
	int rc;

	rc = jenkins_item_config(s->j, it->full_name, &have);
	if (rc == DA_ENOTFOUND) {
		error_clear();
		rc = s->o->dry_run ? 0 : jenkins_item_create(s->j, it->full_name, want);
		if (rc != DA_ECONFLICT) {
			if (rc == 0)
				sync_done(s, SYNC_CREATED, it, NULL);
			goto out;
		}
		/* Created meanwhile (another agent's sync): compare with it. */
		error_clear();
		rc = jenkins_item_config(s->j, it->full_name, &have);
	}
	if (rc == 0)
		rc = sync_existing(s, it, want, &have);
	else if (!sync_fatal(rc))
		error_prefix("%s %s: ", noun, it->full_name);
out:
	buf_dispose(&have);
	free(want);
	return rc;
}

/* Create the node, or update it when a managed field differs; *what says which. */
static int sync_node_do(struct jenkins *j, const struct config *cfg, bool dry_run, FILE *out,
			enum sync_outcome *what)
{
	struct jenkins_node_spec spec = { 0 };
	struct buf have = BUF_INIT_MAX(SYNC_CONFIG_MAX);
	char host[256] = "", *desc, *want = NULL, *why = NULL, *merged = NULL;
	int rc;

	*what = SYNC_UNCHANGED;
	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "%s", "unknown host");
	desc = sync_node_description(host);
	spec.name = cfg->jenkins.node;
	spec.description = desc;
	spec.labels = cfg->jenkins.labels;
	spec.executors = cfg->agent.executors;
	spec.remote_fs = cfg->agent.state_dir;
	want = jenkins_node_xml(&spec);

	rc = jenkins_node_config(j, spec.name, &have);
	if (rc == DA_ENOTFOUND) {
		error_clear();
		rc = dry_run ? 0 : jenkins_node_create(j, &spec);
		if (rc != DA_ECONFLICT) {
			*what = SYNC_CREATED;
			goto out;
		}
		/* Created meanwhile: compare with it. */
		error_clear();
		rc = jenkins_node_config(j, spec.name, &have);
	}
	if (rc != 0)
		goto out;
	rc = sync_config_diff(&why, want, buf_cstr(&have), have.len);
	if (rc != 0 || why == NULL)
		goto out;
	*what = SYNC_UPDATED;
	if (!dry_run) {
		/* Only when something differs: an update may clear the offline cause (§2.4). */
		rc = sync_config_merge(&merged, want, buf_cstr(&have), have.len);
		if (rc == 0)
			rc = jenkins_node_update(j, spec.name, merged);
	}
out:
	if (rc == 0)
		sync_report(out, dry_run, *what, "node", spec.name, why);
	else if (rc != 0 && !sync_fatal(rc) && strstr(error_last(), spec.name) == NULL) {
		error_prefix("node %s: ", spec.name);
	}
	free(merged);
	free(why);
	free(want);
	free(desc);
	buf_dispose(&have);
	return rc;
}

int sync_node(struct jenkins *j, const struct config *cfg, bool dry_run, FILE *out)
{
	enum sync_outcome what;

	return sync_node_do(j, cfg, dry_run, out, &what);
}

static void sync_summary(const struct sync *s)
{
	FILE *out = s->o->out;
	const char *url = jenkins_url(s->j);
	size_t created = s->outcomes[SYNC_CREATED], updated = s->outcomes[SYNC_UPDATED];
	size_t unchanged = s->outcomes[SYNC_UNCHANGED];

	if (out == NULL)
		return;
	if (s->o->dry_run)
		fprintf(out, "dry run: would create %zu, update %zu; %zu unchanged; nothing was "
			"changed in %s\n", created, updated, unchanged, url);
	else if (created == 0 && updated == 0 && s->errors == 0)
		fprintf(out, "sync: nothing to change; %zu items already as the catalog wants "
			"them in %s\n", unchanged, url);
	else
		fprintf(out, "sync: created %zu, updated %zu, unchanged %zu in %s\n", created,
			updated, unchanged, url);
	fflush(out);
}

static int sync_check_config(const struct config *cfg)
{
	const char *where = cfg->path ? cfg->path : "the configuration";

	if (cfg->jenkins.labels == NULL || strspn(cfg->jenkins.labels, " \t") ==
	    strlen(cfg->jenkins.labels)) {
		error_set("%s: [jenkins] labels is empty: the trigger jobs need the agent label", where);
		return DA_EINVALID;
	}
	if (cfg->jenkins.node == NULL || cfg->jenkins.node[0] == '\0') {
		error_set("%s: [jenkins] node is empty", where);
		return DA_EINVALID;
	}
	return 0;
}

int sync_run(const struct sync_opts *opts)
{
	struct sync s;
	const char *first;
	char *label = NULL;
	enum sync_outcome node = SYNC_UNCHANGED;
	int rc;

	memset(&s, 0, sizeof(s));
	s.o = opts;
	rc = sync_check_config(opts->cfg);
	if (rc != 0)
		return rc;
	/* The first label is the one the trigger jobs are restricted to. */
	first = opts->cfg->jenkins.labels + strspn(opts->cfg->jenkins.labels, " \t");
	label = xstrndup(first, strcspn(first, " \t"));
	s.label = label;
	sync_plan(&s);

	rc = jenkins_open_config(&s.j, opts->cfg, opts->envp, opts->wait_ms, NULL);
	if (rc != 0) {
		/* Besides unreachable and refused: no token, or not a Jenkins we can use. */
		if (rc == DA_ERETRY || rc == DA_ETIMEOUT)
			error_prefix("Jenkins did not answer within %ld s: ", opts->wait_ms / 1000);
		else if (!sync_fatal(rc))
			rc = DA_EINVALID;
		goto out;
	}
	for (size_t i = 0; i < s.count; i++) {
		struct sync_item *it = &s.items[i];
		const char *parent = sync_failed_parent(&s, it->full_name);

		if (parent) {
			fprintf(stderr, "dataops-agent: skipped %s %s: folder %s failed\n",
				sync_item_noun(it->kind), it->full_name, parent);
			s.skipped++;
			it->failed = true;
			continue;
		}
		rc = sync_item(&s, it);
		if (rc == 0)
			continue;
		if (sync_fatal(rc))
			goto out;
		fprintf(stderr, "dataops-agent: %s\n", error_last());
		error_clear();
		s.errors++;
		it->failed = true;
		rc = 0;
	}
	rc = sync_node_do(s.j, opts->cfg, opts->dry_run, opts->out, &node);
	if (rc != 0) {
		if (sync_fatal(rc))
			goto out;
		fprintf(stderr, "dataops-agent: %s\n", error_last());
		error_clear();
		s.errors++;
		rc = 0;
	} else {
		s.outcomes[node]++;
	}
	sync_summary(&s);
	if (s.errors) {
		error_set("%zu item%s failed and %zu %s skipped (named above)", s.errors,
			  s.errors == 1 ? "" : "s", s.skipped, s.skipped == 1 ? "was" : "were");
		rc = DA_ERROR;
	}
out:
	for (size_t i = 0; i < s.count; i++)
		free(s.items[i].full_name);
	free(s.items);
	free(label);
	jenkins_free(s.j);
	return rc;
}
