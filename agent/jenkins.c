/* jenkins.c - the agent's calls to Jenkins' remote API (see jenkins.h). */
#include "jenkins.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "xmltext.h"

/* Only what the agent reads: small answers even with hundreds of foreign items (§5.1). */
#define JENKINS_QUEUE_TREE \
	"items[id,inQueueSince,task[name,fullName,url]," \
	"actions[parameters[name,value],causes[userId,userName]]]"
#define JENKINS_ITEM_TREE "cancelled,executable[number,url]"
/* How often a claim that met a stale object (500) is re-read and tried again (§6.2). */
#define JENKINS_CLAIM_TRIES 5
/* Enough of a run's console to hold the agent's first line ("claimed queue item N of"). */
#define JENKINS_CONSOLE_HEAD (64 * 1024)

struct jenkins {
	struct http_client *http;
	char *url;
	char *user;
	char *token;
	char *ca_file;
	long timeout_ms;
	long stream_stall_s;
	char *version;
};

int jenkins_new(struct jenkins **out, const struct jenkins_opts *opts)
{
	struct http_client_opts ho = HTTP_CLIENT_OPTS_INIT;
	struct jenkins *j;
	int rc;

	*out = NULL;
	ho.base_url = opts->url;
	ho.user = opts->user;
	ho.token = opts->token;
	ho.ca_file = opts->ca_file;
	ho.timeout_ms = opts->timeout_ms ? opts->timeout_ms : 30000;
	ho.stream_stall_s = opts->stream_stall_s;
	j = xcalloc(1, sizeof(*j));
	rc = http_client_new(&j->http, &ho);
	if (rc != 0) {
		free(j);
		return rc;
	}
	j->url = xstrdup(http_client_base_url(j->http));
	j->user = xstrdup(opts->user ? opts->user : "");
	j->token = xstrdup(opts->token ? opts->token : "");
	j->ca_file = opts->ca_file ? xstrdup(opts->ca_file) : NULL;
	j->timeout_ms = ho.timeout_ms;
	j->stream_stall_s = opts->stream_stall_s;
	*out = j;
	return 0;
}

int jenkins_clone(struct jenkins **out, const struct jenkins *j)
{
	struct jenkins_opts o = { j->url, j->user, j->token, j->ca_file, j->timeout_ms,
				  j->stream_stall_s };
	int rc = jenkins_new(out, &o);

	if (rc == 0 && j->version)
		(*out)->version = xstrdup(j->version);
	return rc;
}

void jenkins_free(struct jenkins *j)
{
	if (j == NULL)
		return;
	http_client_free(j->http);
	free(j->url);
	free(j->user);
	if (j->token) {
		/* The token is a secret: do not leave it in freed memory. */
		memset(j->token, 0, strlen(j->token));
		free(j->token);
	}
	free(j->ca_file);
	free(j->version);
	free(j);
}

struct http_client *jenkins_http(struct jenkins *j)
{
	return j->http;
}

const char *jenkins_user(const struct jenkins *j)
{
	return j->user;
}

const char *jenkins_url(const struct jenkins *j)
{
	return j->url;
}

const char *jenkins_version(const struct jenkins *j)
{
	return j->version;
}

/* ------------------------------------------------------------------ URLs */

/* Percent-encode s for a URL path segment or a form value (RFC 3986 unreserved kept). */
static void jenkins_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			if (buf_putc(b, (char)*p) != 0)
				fatal("URL too long");
		} else if (buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]) != 0) {
			fatal("URL too long");
		}
	}
}

char *jenkins_item_url_path(const char *full_name)
{
	struct buf b = BUF_INIT_MAX(1 << 20);
	const char *p = full_name;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		char *seg = xstrndup(p, n);

		if (n > 0) {
			buf_puts(&b, "/job/");
			jenkins_encode(&b, seg);
		}
		free(seg);
		p += n;
		if (*p == '/')
			p++;
	}
	return buf_detach(&b);
}

static int jenkins_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode %XX in [s, s+n) (new string); NULL on a bad escape or a decoded '/' or NUL. */
static char *jenkins_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < n ? jenkins_hexval((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < n ? jenkins_hexval((unsigned char)s[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || c == '/') {
			free(out);
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

char *jenkins_full_name_from_url(const char *url)
{
	struct buf b = BUF_INIT_MAX(1 << 20);
	const char *p = strstr(url, "://");
	bool any = false;

	if (p == NULL)
		return NULL;
	p = strchr(p + 3, '/');
	if (p == NULL)
		return NULL;
	/* A prefix ("/jenkins") may come before the first "/job/". */
	p = strstr(p, "/job/");
	while (p && strncmp(p, "/job/", 5) == 0) {
		const char *seg = p + 5;
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		char *name;

		if (n == 0)
			break;
		name = jenkins_decode(seg, n);
		if (name == NULL) {
			buf_dispose(&b);
			return NULL;
		}
		if (any)
			buf_putc(&b, '/');
		buf_puts(&b, name);
		free(name);
		any = true;
		p = end;
	}
	if (!any || (p && *p && strcmp(p, "/") != 0)) {
		buf_dispose(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/* ------------------------------------------------------------- requests */

/* What every answer of Jenkins goes through: its version noted, its status checked. */
static int jenkins_checked(struct jenkins *j, struct http_response *r, int rc)
{
	if (rc != 0)
		return rc;
	if (r->x_jenkins && (j->version == NULL || strcmp(j->version, r->x_jenkins) != 0)) {
		free(j->version);
		j->version = xstrdup(r->x_jenkins);
	}
	return http_check_status(r, j->user);
}

/*
 * One request whose answer must be 2xx/3xx: 0, or the code of
 * http_check_status with its message. A transport failure keeps http's.
 * r is always initialized; the caller disposes it.
 */
static int jenkins_call(struct jenkins *j, struct http_response *r, const char *method,
			const char *path, const char *content_type, const void *body, size_t len)
{
	return jenkins_checked(j, r, http_request(r, j->http, method, path, content_type, body,
						  len));
}

/* Parse an answer's body as a JSON object; DA_EINVALID naming the URL otherwise. */
static int jenkins_json(json_t **out, const struct http_response *r)
{
	json_error_t err;
	json_t *root;

	*out = NULL;
	root = json_loadb(r->body.ptr ? r->body.ptr : "", r->body.len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		error_set("%s %s: the answer is not JSON (%s, content type %s): %s at line %d column %d",
			  r->method, r->url, r->body.len ? "body" : "empty body",
			  r->content_type ? r->content_type : "none", err.text, err.line, err.column);
		return DA_EINVALID;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		error_set("%s %s: the answer is JSON but not an object", r->method, r->url);
		return DA_EINVALID;
	}
	*out = root;
	return 0;
}

static const char *jenkins_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

int jenkins_hello(struct jenkins *j)
{
	struct http_response r;
	int rc = jenkins_call(j, &r, "GET", "/api/json?tree=mode,nodeName", NULL, NULL, 0);
	int major, minor, patch;

	if (rc != 0)
		goto out;
	if (r.x_jenkins == NULL) {
		error_set("%s answered without an X-Jenkins header: is this a Jenkins URL?", r.url);
		rc = DA_EINVALID;
		goto out;
	}
	if (http_jenkins_version(&major, &minor, &patch, r.x_jenkins) != 0) {
		error_set("%s: cannot read the Jenkins version '%.40s' (X-Jenkins)", j->url,
			  r.x_jenkins);
		rc = DA_EINVALID;
		goto out;
	}
	if (!http_jenkins_at_least(r.x_jenkins, JENKINS_MIN_MAJOR, JENKINS_MIN_MINOR)) {
		error_set("Jenkins at %s is version %s; dataops-agent needs %d.%d or later, where "
			  "cancelItem tells which caller claimed a queue item (JENKINS-21311)",
			  j->url, r.x_jenkins, JENKINS_MIN_MAJOR, JENKINS_MIN_MINOR);
		rc = DA_EINVALID;
	}
out:
	http_response_dispose(&r);
	return rc;
}

/* ----------------------------------------------------------------- items */

/* GET a config.xml at path into out (cleared first). */
static int jenkins_config_get(struct jenkins *j, const char *path, struct buf *out)
{
	struct http_response r;
	int rc = jenkins_call(j, &r, "GET", path, NULL, NULL, 0);

	buf_clear(out);
	if (rc == 0 && buf_put(out, r.body.ptr ? r.body.ptr : "", r.body.len) != 0) {
		error_set("GET %s: config.xml larger than %zu bytes", r.url, out->max);
		rc = DA_ETOOBIG;
	}
	http_response_dispose(&r);
	return rc;
}

/* POST a config.xml to path; what names the item in errors. */
static int jenkins_config_post(struct jenkins *j, const char *path, const char *config_xml,
			       const char *what)
{
	struct http_response r;
	/* The body is read as characters: without the charset Jetty takes Latin-1 (§3.3). */
	int rc = jenkins_call(j, &r, "POST", path, "application/xml; charset=UTF-8", config_xml,
			      strlen(config_xml));

	if (rc != 0)
		error_prefix("updating %s: ", what);
	http_response_dispose(&r);
	return rc;
}

int jenkins_item_config(struct jenkins *j, const char *full_name, struct buf *out)
{
	char *item = jenkins_item_url_path(full_name);
	char *path = xasprintf("%s/config.xml", item);
	int rc = jenkins_config_get(j, path, out);

	free(path);
	free(item);
	return rc;
}

int jenkins_item_create(struct jenkins *j, const char *full_name, const char *config_xml)
{
	const char *slash = strrchr(full_name, '/');
	char *parent = xstrndup(full_name, slash ? (size_t)(slash - full_name) : 0);
	char *parent_path = jenkins_item_url_path(parent);
	struct buf path = BUF_INIT_MAX(1 << 20);
	struct http_response r;
	int rc;

	buf_printf(&path, "%s/createItem?name=", parent_path);
	jenkins_encode(&path, slash ? slash + 1 : full_name);
	rc = jenkins_call(j, &r, "POST", buf_cstr(&path), "application/xml; charset=UTF-8",
			  config_xml, strlen(config_xml));
	/* "A job already exists with the name ‘X’" (§3.1); the quotes may be mangled. */
	if (rc == DA_EINVALID && r.x_error &&
	    strncmp(r.x_error, "A job already exists with the name", 34) == 0)
		rc = DA_ECONFLICT;
	if (rc != 0)
		error_prefix("creating %s: ", full_name);
	http_response_dispose(&r);
	buf_dispose(&path);
	free(parent_path);
	free(parent);
	return rc;
}

int jenkins_item_update(struct jenkins *j, const char *full_name, const char *config_xml)
{
	char *item = jenkins_item_url_path(full_name);
	char *path = xasprintf("%s/config.xml", item);
	int rc = jenkins_config_post(j, path, config_xml, full_name);

	free(path);
	free(item);
	return rc;
}

/* The queue id in a Location ".../queue/item/42/"; -1 when there is none. */
static long long jenkins_location_queue_id(const char *location)
{
	const char *p = location ? strstr(location, "/queue/item/") : NULL;
	char *end;
	long long id;

	if (p == NULL)
		return -1;
	p += strlen("/queue/item/");
	errno = 0;
	id = strtoll(p, &end, 10);
	if (errno != 0 || end == p || id < 0 || (*end != '/' && *end != '\0'))
		return -1;
	return id;
}

int jenkins_build(struct jenkins *j, const char *full_name, char *const *params,
		  long long *queue_id)
{
	char *item = jenkins_item_url_path(full_name);
	char *path = xasprintf("%s/buildWithParameters?delay=0sec", item);
	struct buf form = BUF_INIT_MAX(1 << 20);
	struct http_response r;
	int rc;

	*queue_id = -1;
	for (size_t i = 0; params && params[i]; i++) {
		const char *eq = strchr(params[i], '=');
		char *name = xstrndup(params[i], eq ? (size_t)(eq - params[i]) : strlen(params[i]));

		if (i > 0)
			buf_putc(&form, '&');
		jenkins_encode(&form, name);
		buf_putc(&form, '=');
		jenkins_encode(&form, eq ? eq + 1 : "");
		free(name);
	}
	rc = jenkins_call(j, &r, "POST", path, "application/x-www-form-urlencoded", form.ptr,
			  form.len);
	if (rc == 0) {
		*queue_id = jenkins_location_queue_id(r.location);
		if ((r.status != 201 && r.status != 303) || *queue_id < 0) {
			error_set("POST %s: expected 201 or 303 with a queue item, got %ld (Location %s)",
				  r.url, r.status, r.location ? r.location : "none");
			rc = DA_ERROR;
		}
	}
	if (rc != 0)
		error_prefix("triggering %s: ", full_name);
	http_response_dispose(&r);
	buf_dispose(&form);
	free(path);
	free(item);
	return rc;
}

/* ----------------------------------------------------------------- nodes */

/* "/computer/<name><rest>" with the name encoded (new string). */
static char *jenkins_computer_path(const char *name, const char *rest)
{
	struct buf b = BUF_INIT_MAX(1 << 16);

	buf_puts(&b, "/computer/");
	jenkins_encode(&b, name);
	buf_puts(&b, rest);
	return buf_detach(&b);
}

void jenkins_node_dispose(struct jenkins_node *n)
{
	free(n->name);
	free(n->offline_user);
	free(n->offline_message);
	memset(n, 0, sizeof(*n));
}

/* Fill n from /computer/N/api/json. */
static void jenkins_node_parse(struct jenkins_node *n, const json_t *root, const char *name)
{
	const json_t *cause = json_object_get(root, "offlineCause");

	memset(n, 0, sizeof(*n));
	n->name = xstrdup(name);
	n->temporarily_offline = json_is_true(json_object_get(root, "temporarilyOffline"));
	if (n->temporarily_offline && json_is_object(cause)) {
		/* UserCause: "Disconnected by <user> : <message>" (§2.5), unescaped. */
		const char *d = jenkins_json_str(cause, "description");
		const char *by = "Disconnected by ";
		const char *sep = d ? strstr(d, " : ") : NULL;

		if (d && strncmp(d, by, strlen(by)) == 0 && sep) {
			n->offline_user = xstrndup(d + strlen(by), (size_t)(sep - d) - strlen(by));
			n->offline_message = xstrdup(sep + 3);
		} else if (d) {
			n->offline_message = xstrdup(d);
		}
	}
}

int jenkins_node_get(struct jenkins *j, const char *name, struct jenkins_node *out)
{
	/* Only the offline state: called on every poll (the agent's drain and status). */
	char *path = jenkins_computer_path(name, "/api/json?tree=temporarilyOffline,"
					   "offlineCause[description]");
	struct http_response r;
	json_t *root = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = jenkins_call(j, &r, "GET", path, NULL, NULL, 0);
	if (rc == 0)
		rc = jenkins_json(&root, &r);
	if (rc == 0)
		jenkins_node_parse(out, root, name);
	if (rc != 0 && rc != DA_ENOTFOUND)
		error_prefix("node '%s': ", name);
	json_decref(root);
	http_response_dispose(&r);
	free(path);
	return rc;
}

static void jenkins_xml_element(struct buf *b, const char *tag, const char *text)
{
	buf_printf(b, "  <%s>", tag);
	xml_text_put(b, text ? text : "");
	buf_printf(b, "</%s>\n", tag);
}

char *jenkins_node_xml(const struct jenkins_node_spec *spec)
{
	struct buf b = BUF_INIT_MAX(1 << 20);

	/* The shape of core's SlaveTest/slave.xml (§2.4); JNLPLauncher never launches anything. */
	buf_puts(&b, "<?xml version='1.1' encoding='UTF-8'?>\n<slave>\n");
	jenkins_xml_element(&b, "name", spec->name);
	jenkins_xml_element(&b, "description", spec->description);
	jenkins_xml_element(&b, "remoteFS", spec->remote_fs);
	buf_printf(&b, "  <numExecutors>%u</numExecutors>\n", spec->executors);
	buf_puts(&b, "  <mode>EXCLUSIVE</mode>\n"
		 "  <retentionStrategy class=\"hudson.slaves.RetentionStrategy$Always\"/>\n"
		 "  <launcher class=\"hudson.slaves.JNLPLauncher\"/>\n");
	jenkins_xml_element(&b, "label", spec->labels);
	buf_puts(&b, "  <nodeProperties/>\n</slave>\n");
	return buf_detach(&b);
}

/* Append "key":"s" as JSON; DA_EINVALID when s is not UTF-8. */
static int jenkins_json_put(struct buf *b, const char *key, const char *s)
{
	json_t *js = json_string(s ? s : "");
	char *v = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;

	json_decref(js);
	if (v == NULL) {
		error_set("%s is not valid UTF-8", key);
		return DA_EINVALID;
	}
	buf_printf(b, "\"%s\":%s", key, v);
	free(v);
	return 0;
}

int jenkins_node_create(struct jenkins *j, const struct jenkins_node_spec *spec)
{
	struct buf json = BUF_INIT_MAX(1 << 20), form = BUF_INIT_MAX(1 << 21);
	struct http_response r;
	int rc;

	/* The structured form of the "New node" page (§2.2), what python-jenkins sends. */
	buf_putc(&json, '{');
	if ((rc = jenkins_json_put(&json, "nodeDescription", spec->description)) != 0)
		goto out;
	buf_printf(&json, ",\"numExecutors\":%u,", spec->executors);
	if ((rc = jenkins_json_put(&json, "remoteFS", spec->remote_fs)) != 0)
		goto out;
	buf_putc(&json, ',');
	if ((rc = jenkins_json_put(&json, "labelString", spec->labels)) != 0)
		goto out;
	buf_puts(&json, ",\"mode\":\"EXCLUSIVE\","
		 "\"launcher\":{\"stapler-class\":\"hudson.slaves.JNLPLauncher\","
		 "\"$class\":\"hudson.slaves.JNLPLauncher\"},"
		 "\"retentionStrategy\":{\"stapler-class\":\"hudson.slaves.RetentionStrategy$Always\","
		 "\"$class\":\"hudson.slaves.RetentionStrategy$Always\"},"
		 "\"nodeProperties\":{\"stapler-class-bag\":\"true\"}}");
	buf_puts(&form, "name=");
	jenkins_encode(&form, spec->name);
	buf_puts(&form, "&type=hudson.slaves.DumbSlave&json=");
	jenkins_encode(&form, buf_cstr(&json));
	rc = jenkins_call(j, &r, "POST", "/computer/doCreateItem",
			  "application/x-www-form-urlencoded", form.ptr, form.len);
	/* "Agent called ‘N’ already exists" */
	if (rc == DA_EINVALID && r.x_error && strstr(r.x_error, "already exists"))
		rc = DA_ECONFLICT;
	http_response_dispose(&r);
out:
	if (rc != 0)
		error_prefix("creating node '%s': ", spec->name);
	buf_dispose(&form);
	buf_dispose(&json);
	return rc;
}

int jenkins_node_config(struct jenkins *j, const char *name, struct buf *out)
{
	char *path = jenkins_computer_path(name, "/config.xml");
	int rc = jenkins_config_get(j, path, out);

	free(path);
	return rc;
}

int jenkins_node_update(struct jenkins *j, const char *name, const char *config_xml)
{
	char *path = jenkins_computer_path(name, "/config.xml");
	char *what = xasprintf("node '%s'", name);
	int rc = jenkins_config_post(j, path, config_xml, what);

	free(what);
	free(path);
	return rc;
}

int jenkins_node_set_message(struct jenkins *j, const char *name, const char *message)
{
	struct buf rest = BUF_INIT_MAX(1 << 16);
	struct http_response r;
	char *path;
	int rc;

	buf_puts(&rest, "/changeOfflineCause?offlineMessage=");
	jenkins_encode(&rest, message ? message : "");
	path = jenkins_computer_path(name, buf_cstr(&rest));
	rc = jenkins_call(j, &r, "POST", path, NULL, NULL, 0);
	if (rc != 0)
		error_prefix("node '%s' changeOfflineCause: ", name);
	http_response_dispose(&r);
	buf_dispose(&rest);
	free(path);
	return rc;
}

/* ----------------------------------------------------------------- queue */

static void jenkins_queue_item_dispose(struct jenkins_queue_item *it)
{
	free(it->full_name);
	free(it->user);
	for (size_t i = 0; i < it->param_count; i++)
		free(it->params[i]);
	free(it->params);
}

void jenkins_queue_dispose(struct jenkins_queue *q)
{
	for (size_t i = 0; i < q->count; i++)
		jenkins_queue_item_dispose(&q->items[i]);
	free(q->items);
	q->items = NULL;
	q->count = 0;
}

/* A parameter value as text: strings as they are, booleans and numbers as Jenkins prints them. */
static char *jenkins_param_text(const json_t *v)
{
	/* A value with a NUL inside could not be passed on whole: treated as absent. */
	if (json_is_string(v))
		return strlen(json_string_value(v)) == json_string_length(v) ?
		       xstrdup(json_string_value(v)) : NULL;
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "true" : "false");
	if (json_is_integer(v))
		return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%g", json_real_value(v));
	return NULL;            /* null (a password parameter), objects: not passed on */
}

static void jenkins_item_add_param(struct jenkins_queue_item *it, const char *name, char *value)
{
	it->params = xrealloc(it->params, (it->param_count + 2) * sizeof(*it->params));
	it->params[it->param_count++] = xasprintf("%s=%s", name, value);
	it->params[it->param_count] = NULL;
	free(value);
}

/* Parameters and the triggering user from the item's actions (§5.1). */
static void jenkins_item_actions(struct jenkins_queue_item *it, const json_t *actions)
{
	const json_t *a, *p, *c;
	size_t i, k;

	json_array_foreach(actions, i, a) {
		json_array_foreach(json_object_get(a, "parameters"), k, p) {
			const char *name = jenkins_json_str(p, "name");
			char *value = jenkins_param_text(json_object_get(p, "value"));

			/* A name with '=' or NUL could not be told apart from its value. */
			if (name == NULL || value == NULL || *name == '\0' || strchr(name, '=')) {
				free(value);
				continue;
			}
			jenkins_item_add_param(it, name, value);
		}
		json_array_foreach(json_object_get(a, "causes"), k, c) {
			const char *u = jenkins_json_str(c, "userId");

			if (u == NULL)
				u = jenkins_json_str(c, "userName");
			if (u && it->user == NULL)
				it->user = xstrdup(u);
		}
	}
}

int jenkins_queue_parse(const char *json, size_t len, const char *what, struct jenkins_queue *out)
{
	json_error_t err;
	/* NUL allowed: one odd parameter value must not hide the whole queue. */
	json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &err);
	const json_t *items, *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (root == NULL) {
		error_set("%s: not JSON: %s at line %d column %d", what, err.text, err.line,
			  err.column);
		return DA_EINVALID;
	}
	items = json_object_get(root, "items");
	if (!json_is_array(items)) {
		json_decref(root);
		error_set("%s: not a Jenkins queue (no \"items\" array)", what);
		return DA_EINVALID;
	}
	out->items = xcalloc(json_array_size(items) + 1, sizeof(*out->items));
	json_array_foreach(items, i, v) {
		struct jenkins_queue_item *it = &out->items[out->count];
		const json_t *task = json_object_get(v, "task");
		const json_t *id = json_object_get(v, "id");
		const char *fn = jenkins_json_str(task, "fullName");

		if (!json_is_integer(id) || json_integer_value(id) < 0 || !json_is_object(task))
			continue;
		memset(it, 0, sizeof(*it));
		it->id = json_integer_value(id);
		it->full_name = fn ? xstrdup(fn) : NULL;
		if (it->full_name == NULL && jenkins_json_str(task, "url"))
			it->full_name = jenkins_full_name_from_url(jenkins_json_str(task, "url"));
		if (it->full_name == NULL || strlen(it->full_name) == 0) {
			free(it->full_name);
			continue;
		}
		it->params = xcalloc(1, sizeof(*it->params));
		it->in_queue_since = json_integer_value(json_object_get(v, "inQueueSince"));
		jenkins_item_actions(it, json_object_get(v, "actions"));
		out->count++;
	}
	json_decref(root);
	return 0;
}

int jenkins_queue_list(struct jenkins *j, struct jenkins_queue *out)
{
	struct http_response r;
	int rc = jenkins_call(j, &r, "GET", "/queue/api/json?tree=" JENKINS_QUEUE_TREE, NULL, NULL,
			      0);
	char *what;

	memset(out, 0, sizeof(*out));
	if (rc == 0 && r.content_type && strncmp(r.content_type, "text/html", 9) == 0) {
		/* A sign-in page of a proxy or an SSO gateway answers 200 with HTML. */
		error_set("GET %s: answered an HTML page, not JSON: is a proxy or a sign-in page "
			  "between the agent and Jenkins?", r.url);
		rc = DA_EINVALID;
	}
	if (rc == 0) {
		what = xasprintf("GET %s", r.url);
		rc = jenkins_queue_parse(r.body.ptr ? r.body.ptr : "", r.body.len, what, out);
		free(what);
	}
	http_response_dispose(&r);
	return rc;
}

int jenkins_queue_item_state_parse(const char *json, size_t len, enum jenkins_item_state *out)
{
	json_error_t err;
	json_t *root = json_loadb(json, len, 0, &err);
	const json_t *cancelled, *exec;

	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		error_set("queue item: not a JSON object");
		return DA_EINVALID;
	}
	cancelled = json_object_get(root, "cancelled");
	exec = json_object_get(root, "executable");
	/* Only a LeftItem exports cancelled/executable (§5.5). */
	if (json_is_true(cancelled))
		*out = JENKINS_ITEM_CANCELLED;
	else if (json_is_object(exec))
		*out = JENKINS_ITEM_STARTED;
	else if (cancelled != NULL)
		*out = JENKINS_ITEM_CANCELLED;   /* left, neither cancelled nor started: gone for us */
	else
		*out = JENKINS_ITEM_QUEUED;
	json_decref(root);
	return 0;
}

int jenkins_queue_item_state(struct jenkins *j, long long id, enum jenkins_item_state *out)
{
	char *path = xasprintf("/queue/item/%lld/api/json?tree=" JENKINS_ITEM_TREE ",id", id);
	struct http_response r;
	int rc = jenkins_call(j, &r, "GET", path, NULL, NULL, 0);

	if (rc == DA_ENOTFOUND) {
		error_clear();
		*out = JENKINS_ITEM_GONE;
		rc = 0;
	} else if (rc == 0) {
		rc = jenkins_queue_item_state_parse(r.body.ptr ? r.body.ptr : "", r.body.len, out);
		if (rc != 0)
			error_prefix("GET %s: ", r.url);
	}
	http_response_dispose(&r);
	free(path);
	return rc;
}

int jenkins_claim(struct jenkins *j, long long id)
{
	char *path = xasprintf("/queue/cancelItem?id=%lld", id);
	enum jenkins_item_state st;
	int rc = DA_ERROR;

	for (int attempt = 0; attempt < JENKINS_CLAIM_TRIES; attempt++) {
		struct http_response r;
		bool resent;

		rc = http_request(&r, j->http, "POST", path, NULL, NULL, 0);
		resent = r.reconnected;
		if (rc == 0 && r.status == 204) {
			http_response_dispose(&r);
			goto out;
		}
		if (rc == 0 && (r.status == 404 || (r.status >= 300 && r.status < 400))) {
			/* 404: gone or left > 5 min ago; 3xx cannot happen on >= 2.211 (checked). */
			error_set("queue item %lld: claimed by somebody else (%ld)", id, r.status);
			http_response_dispose(&r);
			rc = DA_ECONFLICT;
			goto out;
		}
		if (rc == 0 && r.status != 500) {
			rc = http_check_status(&r, j->user);
			if (rc == 0) {
				error_set("POST %s: unexpected %ld", r.url, r.status);
				rc = DA_ERROR;
			}
			error_prefix("claiming queue item %lld: ", id);
			http_response_dispose(&r);
			goto out;
		}
		http_response_dispose(&r);
		if (rc != 0) {
			/* No answer: whether Jenkins removed the item is unknown. */
			error_prefix("claiming queue item %lld: ", id);
			goto out;
		}
		/* 500: a lost race or a stale object (§6.2). Is the item still queued? */
		rc = jenkins_queue_item_state(j, id, &st);
		if (rc != 0)
			goto out;
		if (st != JENKINS_ITEM_QUEUED && resent) {
			/*
			 * The request may have gone out twice (http.h, reconnected):
			 * the 500 may answer our own resend after a lost 204.
			 */
			error_set("queue item %lld: cancelItem answered 500 on a new connection; "
				  "whether the first sending took it is unknown", id);
			rc = DA_ERETRY;
			goto out;
		}
		if (st != JENKINS_ITEM_QUEUED) {
			error_set("queue item %lld: claimed by somebody else", id);
			rc = DA_ECONFLICT;
			goto out;
		}
		log_debug("queue item %lld: cancelItem answered 500 while it is still queued; "
			  "trying again", id);
		nanosleep(&(struct timespec){ 0, 50000000L * (attempt + 1) }, NULL);
	}
	rc = DA_ERETRY;
	error_set("queue item %lld: cancelItem kept answering 500 while the item stays queued",
		  id);
out:
	free(path);
	return rc;
}

/* ---------------------------------------------------------- from config */

int jenkins_open_config(struct jenkins **out, const struct config *cfg, char *const *envp,
			long wait_ms, volatile sig_atomic_t *stop)
{
	struct jenkins_opts o = { 0 };
	struct jenkins *j = NULL;
	char *token = NULL;
	long long start = time_mono_ms();
	unsigned attempt = 0;
	int rc;

	*out = NULL;
	if (cfg->jenkins.url == NULL || cfg->jenkins.user == NULL) {
		error_set("%s: [jenkins] url and user must be set", cfg->path ? cfg->path :
			  "configuration");
		return DA_EINVALID;
	}
	rc = config_read_secret(&token, "[jenkins] token_file", cfg->jenkins.token_file,
				"DATAOPS_JENKINS_TOKEN", envp);
	if (rc != 0)
		return rc;
	o.url = cfg->jenkins.url;
	o.user = cfg->jenkins.user;
	o.token = token;
	o.ca_file = cfg->jenkins.ca_file;
	rc = jenkins_new(&j, &o);
	memset(token, 0, strlen(token));
	free(token);
	if (rc != 0)
		return rc;
	for (;;) {
		unsigned delay;
		long long waited;

		rc = jenkins_hello(j);
		if (rc != DA_ERETRY && rc != DA_ETIMEOUT)
			break;
		waited = time_mono_ms() - start;
		if (wait_ms == 0 || (wait_ms > 0 && waited >= wait_ms) || (stop && *stop))
			break;
		delay = http_backoff_ms(attempt++, 500, 30000);
		if (wait_ms > 0 && waited + (long long)delay > wait_ms)
			delay = (unsigned)(wait_ms - waited);
		log_warn("%s; retrying in %.1f s", error_last(), delay / 1000.0);
		for (unsigned slept = 0; slept < delay && !(stop && *stop); slept += 100)
			nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
	}
	if (rc != 0) {
		jenkins_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

/* ---------------------------------------------------------------- runs */

/* Does the console of an in-progress run start with an agent's claim of queue_id? */
static bool jenkins_run_console_has(struct jenkins *j, const char *item, const json_t *b,
				    long long queue_id)
{
	char *path = xasprintf("%s/%lld/consoleText", item,
			       (long long)json_integer_value(json_object_get(b, "number")));
	char *marker = xasprintf("claimed queue item %lld of ", queue_id);
	struct http_response r;
	/* Only its start: the whole console of a long run would be slow, or past the cap. */
	bool has = jenkins_checked(j, &r, http_get_head(&r, j->http, path,
							 JENKINS_CONSOLE_HEAD)) == 0 &&
		   r.body.ptr && strstr(r.body.ptr, marker) != NULL;

	error_clear();
	http_response_dispose(&r);
	free(marker);
	free(path);
	return has;
}

/* Does a run still have Jenkins' default name, "#<number>"? */
static bool jenkins_default_name(const json_t *b)
{
	char want[32];

	snprintf(want, sizeof(want), "#%lld",
		 (long long)json_integer_value(json_object_get(b, "number")));
	return jenkins_json_str(b, "displayName") &&
	       strcmp(jenkins_json_str(b, "displayName"), want) == 0;
}

/* jenkins_find_record, and with look_inside false jenkins_find_finished_record. */
static int jenkins_find(struct jenkins *j, const char *runs_job, long long queue_id,
			struct jenkins_record_match *out, bool look_inside)
{
	char *item = jenkins_item_url_path(runs_job);
	char *path = xasprintf("%s/api/json?tree=builds[number,displayName,building,result]", item);
	char *prefix = xasprintf("#%lld ", queue_id);
	struct http_response r;
	json_t *root = NULL;
	const json_t *b;
	size_t i;
	int rc = jenkins_call(j, &r, "GET", path, NULL, NULL, 0);

	memset(out, 0, sizeof(*out));
	if (rc == 0)
		rc = jenkins_json(&root, &r);
	/* Only a finished record carries our display name: it is set by </run> (§7.7). */
	json_array_foreach(json_object_get(root, "builds"), i, b) {
		const char *name = jenkins_json_str(b, "displayName");

		if (json_is_true(json_object_get(b, "building"))) {
			if (look_inside && !out->running)
				out->running = jenkins_run_console_has(j, item, b, queue_id);
			continue;
		}
		if (look_inside && name && strncmp(name, prefix, strlen(prefix)) != 0 &&
		    out->partial == 0 &&
		    jenkins_default_name(b) && jenkins_json_str(b, "result") &&
		    strcmp(jenkins_json_str(b, "result"), "FAILURE") == 0 &&
		    jenkins_run_console_has(j, item, b, queue_id)) {
			/* A broken live record: it never got our name (§7.7). */
			out->partial = json_integer_value(json_object_get(b, "number"));
			continue;
		}
		if (name == NULL || strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		out->found = true;
		out->number = json_integer_value(json_object_get(b, "number"));
		snprintf(out->result, sizeof(out->result), "%s",
			 jenkins_json_str(b, "result") ? jenkins_json_str(b, "result") : "");
		break;
	}
	if (rc != 0)
		error_prefix("looking for the record of queue item %lld: ", queue_id);
	json_decref(root);
	http_response_dispose(&r);
	free(prefix);
	free(path);
	free(item);
	return rc;
}

int jenkins_find_record(struct jenkins *j, const char *runs_job, long long queue_id,
			struct jenkins_record_match *out)
{
	return jenkins_find(j, runs_job, queue_id, out, true);
}

int jenkins_find_finished_record(struct jenkins *j, const char *runs_job, long long queue_id,
				 struct jenkins_record_match *out)
{
	return jenkins_find(j, runs_job, queue_id, out, false);
}
