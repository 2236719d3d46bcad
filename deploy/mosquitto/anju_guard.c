/*
 * anju_guard: the two rules Mosquitto's password and ACL files cannot express.
 *
 *   1. A device (any user not listed in plugin_opt_services) connects only
 *      with its user name as its client id. Otherwise one device could take
 *      another's client id (kicking it off and firing its last will) or a
 *      service's (wiping the ingest's persistent session).
 *   2. A device may not subscribe at all. Mosquitto 2.0's acl_file grants
 *      every SUBSCRIBE (src/security_default.c: "FIXME - implement ACL
 *      subscription strings") and checks only delivery; a device that joins
 *      the ingest's shared subscription ($share/anju-ingest/anju/v1/#) gets
 *      its turn of the round robin, is refused delivery, and the reading is
 *      dropped, so subscribing must be refused.
 *
 * Everything else is deferred to password_file and acl_file, which run after
 * this plugin (plugins register their callbacks first). Build:
 *   cc -shared -fPIC -O2 -o anju_guard.so anju_guard.c
 * (needs mosquitto-dev and libmosquitto-dev). Configure:
 *   plugin /usr/local/lib/anju/anju_guard.so
 *   plugin_opt_services anju-ingest anju-admin
 */
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_SERVICES 32

static mosquitto_plugin_id_t *plugin_id;
static char *services_buf;
static const char *services[MAX_SERVICES];
static int service_count;

static int is_service(const char *username)
{
	int i;

	if(username == NULL) return 0;
	for(i = 0; i < service_count; i++){
		if(strcmp(services[i], username) == 0) return 1;
	}
	return 0;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *client_id;

	(void)event;
	(void)userdata;
	if(ed->username == NULL || is_service(ed->username)) return MOSQ_ERR_PLUGIN_DEFER;
	client_id = mosquitto_client_id(ed->client);
	if(client_id == NULL || strcmp(client_id, ed->username) != 0){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"anju_guard: refused %s: a device's client id must be its user name (%s)",
				client_id ? client_id : "(none)", ed->username);
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;

	(void)event;
	(void)userdata;
	if(ed->access != MOSQ_ACL_SUBSCRIBE) return MOSQ_ERR_PLUGIN_DEFER;
	if(is_service(mosquitto_client_username(ed->client))) return MOSQ_ERR_PLUGIN_DEFER;
	return MOSQ_ERR_ACL_DENIED;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;

	for(i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **user_data,
		struct mosquitto_opt *opts, int opt_count)
{
	int i;
	char *tok, *save = NULL;

	(void)user_data;
	plugin_id = identifier;
	for(i = 0; i < opt_count; i++){
		if(strcmp(opts[i].key, "services") == 0){
			free(services_buf);
			services_buf = strdup(opts[i].value);
			if(services_buf == NULL) return MOSQ_ERR_NOMEM;
			service_count = 0;
			for(tok = strtok_r(services_buf, " ,", &save); tok && service_count < MAX_SERVICES;
					tok = strtok_r(NULL, " ,", &save)){
				services[service_count++] = tok;
			}
		}
	}
	if(service_count == 0){
		/* Without it every service would be treated as a device and the
		 * ingest could not subscribe: better to refuse to start. */
		mosquitto_log_printf(MOSQ_LOG_ERR, "anju_guard: plugin_opt_services is required");
		return MOSQ_ERR_INVAL;
	}
	if(mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL)
			|| mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL)){
		return MOSQ_ERR_UNKNOWN;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *user_data, struct mosquitto_opt *opts, int opt_count)
{
	(void)user_data;
	(void)opts;
	(void)opt_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	free(services_buf);
	services_buf = NULL;
	service_count = 0;
	return MOSQ_ERR_SUCCESS;
}
