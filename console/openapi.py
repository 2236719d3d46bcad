"""The OpenAPI 3.1 document of /api/v1, built from one table of endpoints."""

from __future__ import annotations

from typing import Any

from console import i18n
from anju.contract import ROOMS
from console.manage import DEVICE_KIND_CHOICES
from console.pages import HOME_STATUSES
from console.visits import OUTCOMES as VISIT_OUTCOMES, SCHEDULE_KINDS

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_WINDOW = {"name": "window", "in": "query", "schema": {"type": "string", "enum": ["24h", "7d"]}}


def _q(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


_NOTE = {"type": "string", "maxLength": 1000}

ENDPOINTS: list[tuple[str, str, str, list[dict[str, Any]], dict[str, Any] | None]] = [
    ("get", "/me", "The signed-in user, their scope and the CSRF token for POSTs", [], None),
    ("get", "/board", "Unresolved alerts in scope, most severe and longest waiting first",
     [], None),
    ("get", "/alerts", "Alerts in scope, newest first",
     [_q("state", {"type": "string", "enum": ["open", "acknowledged", "resolved"]}),
      _q("home", {"type": "integer", "minimum": 1}),
      _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000})], None),
    ("get", "/alerts/{id}", "An alert with its events, escalation, deliveries and attempts",
     [_ID], None),
    ("post", "/alerts/{id}/acknowledge", "Acknowledge: stops the escalation",
     [_ID], {"type": "object", "properties": {"note": _NOTE}, "additionalProperties": True}),
    ("post", "/alerts/{id}/resolve", "Resolve with an outcome",
     [_ID], {"type": "object", "required": ["outcome"],
             "properties": {"outcome": {"type": "string", "enum": list(i18n.PERSON_OUTCOMES)},
                            "note": _NOTE}}),
    ("get", "/homes", "Homes in scope, with status",
     [_q("community", {"type": "string", "maxLength": 64}),
      _q("building", {"type": "string", "maxLength": 64}),
      _q("status", {"type": "string", "enum": list(HOME_STATUSES)}),
      _q("q", {"type": "string", "maxLength": 64}),
      _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
      _q("offset", {"type": "integer", "minimum": 0})], None),
    ("get", "/homes/{id}", "A home: resident, contacts, devices, away periods, alert history",
     [_ID], None),
    ("get", "/homes/{id}/activity", "Activations per room and 15 min (24h) or hour (7d)",
     [_ID, _WINDOW, _q("format", {"type": "string", "enum": ["json", "svg"]})], None),
    ("get", "/homes/{id}/usage", "Water (litres) and power (mean W) per 15 min",
     [_ID, _WINDOW], None),
    ("get", "/visits", "Visits due within `within` days, overdue included: mine or all in scope",
     [_q("worker", {"type": "string", "enum": ["me", "all"]}),
      _q("within", {"type": "integer", "minimum": 0, "maximum": 366})], None),
    ("get", "/homes/{id}/visits", "A home's visit schedules and recent visits", [_ID], None),
    ("post", "/homes/{id}/visits",
     "Record a visit; outcome concern (with the concern) opens a visit_concern alert",
     [_ID], {"type": "object", "required": ["outcome"], "properties": {
         "outcome": {"type": "string", "enum": list(VISIT_OUTCOMES)},
         "kind": {"type": "string", "enum": list(SCHEDULE_KINDS)},
         "concern": {"type": "string", "maxLength": 1000}, "note": _NOTE,
         "visited_at": {"type": "string", "format": "date-time"}}}),
    ("get", "/reports",
     "Critical alerts answered within 60 s / 180 s per community and ISO week, alerts by kind,"
     " device health (admin, operator, property)",
     [_q("weeks", {"type": "integer", "minimum": 1, "maximum": 104}),
      _q("community", {"type": "string", "maxLength": 64})], None),
    ("get", "/audit", "The audit log: all for admins, operators their communities' and their own",
     [_q("home", {"type": "integer", "minimum": 1}),
      _q("alert", {"type": "integer", "minimum": 1}),
      _q("user", {"type": "string", "maxLength": 64}),
      _q("action", {"type": "string", "maxLength": 64}),
      _q("before", {"type": "integer", "minimum": 1}),
      _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000})], None),
    ("post", "/homes/{id}/away", "Mark the resident away (set) or back (clear); admin, operator",
     [_ID], {"type": "object", "required": ["action"], "properties": {
         "action": {"type": "string", "enum": ["set", "clear"]},
         "start": {"type": "string", "description": "in the home's time zone; default now"},
         "until": {"type": "string", "description": "in the home's time zone; default open"},
         "reason": {"type": "string", "maxLength": 200}}}),
    ("get", "/homes/{id}/detector", "Detector settings: the home's, the community's, effective",
     [_ID], None),
    ("post", "/homes/{id}/detector",
     "Change the home's detector settings (validated; merged unless replace); admin, operator",
     [_ID], {"type": "object", "required": ["settings"], "properties": {
         "settings": {"type": "object", "description": "e.g. {\"inactivity.floor_min\": 90}"},
         "replace": {"type": "boolean"}}}),
    ("post", "/homes/{id}/contacts", "Add a family or property contact; admin, operator",
     [_ID], {"type": "object", "required": ["name", "urls"], "properties": {
         "role": {"type": "string", "enum": ["family", "property"]},
         "name": {"type": "string", "maxLength": 100},
         "urls": {"type": "array", "items": {"type": "string", "maxLength": 500},
                  "minItems": 1, "maxItems": 5},
         "lang": {"type": "string", "enum": ["zh-CN", "en"]}}}),
    ("post", "/homes/{id}/contacts/{cid}/remove", "Remove (deactivate) one of the home's contacts",
     [_ID, {**_ID, "name": "cid"}], {"type": "object"}),
    ("get", "/homes/{id}/policies", "The escalation policy per severity and where it comes from",
     [_ID], None),
    ("post", "/homes/{id}/policies", "Set this home's escalation policy for a severity",
     [_ID], {"type": "object", "required": ["severity", "policy"], "properties": {
         "severity": {"type": "string", "enum": ["critical", "high", "medium", "low"]},
         "policy": {"type": "object", "description": "{\"steps\": [{\"after_s\": 0, "
                    "\"notify\": [\"family\"]}], \"repeat_s\": 900}"}}}),
    ("get", "/homes/{id}/devices", "A home's devices", [_ID], None),
    ("post", "/homes/{id}/devices",
     "Provision a device; its MQTT password is in this response only; admin, operator",
     [_ID], {"type": "object", "required": ["kind"], "properties": {
         "kind": {"type": "string", "enum": list(DEVICE_KIND_CHOICES)},
         "room": {"type": "string", "enum": list(ROOMS)},
         "vendor": {"type": "string", "maxLength": 64},
         "model": {"type": "string", "maxLength": 64},
         "heartbeat_s": {"type": "integer", "minimum": 10, "maximum": 86400}}}),
    ("post", "/homes", "Create a home in a community you manage (admin; operator of it)",
     [], {"type": "object", "required": ["code", "community", "resident"], "properties": {
         "code": {"type": "string", "maxLength": 64},
         "community": {"type": "string", "maxLength": 64, "description": "community code"},
         "resident": {"type": "string", "maxLength": 100},
         "address": {"type": "string", "maxLength": 200},
         "building": {"type": "string", "maxLength": 64},
         "tz": {"type": "string", "maxLength": 64, "description": "IANA, e.g. Asia/Shanghai"}}}),
    ("post", "/homes/{id}", "Edit a home's resident, address, building or time zone"
     " (absent fields stay); admin, operator",
     [_ID], {"type": "object", "properties": {
         "resident": {"type": "string", "maxLength": 100},
         "address": {"type": "string", "maxLength": 200},
         "building": {"type": "string", "maxLength": 64},
         "tz": {"type": "string", "maxLength": 64}}}),
    ("get", "/communities/{id}/workers",
     "A community's workers and their weekly on-duty shifts; admin, operator of it", [_ID], None),
    ("post", "/communities/{id}/shifts", "Add a worker's weekly shift (one per day)",
     [_ID], {"type": "object", "required": ["contact", "days", "starts", "ends"], "properties": {
         "contact": {"type": "integer", "minimum": 1, "description": "the worker's contact id"},
         "days": {"description": "ISO weekdays: \"1-5\", \"6,7\", \"mon-fri\" or [1, 2]",
                  "oneOf": [{"type": "string", "maxLength": 40},
                            {"type": "array", "items": {"type": "integer", "minimum": 1,
                                                        "maximum": 7}, "minItems": 1}]},
         "starts": {"type": "string", "description": "HH:MM"},
         "ends": {"type": "string", "description": "HH:MM; before starts runs past midnight"}}}),
    ("post", "/communities/{id}/shifts/{sid}/remove", "Remove one shift",
     [_ID, {**_ID, "name": "sid"}], {"type": "object"}),
    ("post", "/homes/{id}/schedules", "Set (or stop, active false) a home's visit schedule",
     [_ID], {"type": "object", "required": ["kind", "every_days"], "properties": {
         "kind": {"type": "string", "enum": list(SCHEDULE_KINDS)},
         "every_days": {"type": "integer", "minimum": 1, "maximum": 366},
         "worker": {"type": "string", "maxLength": 64, "description": "a console user name"},
         "first_due": {"type": "string", "format": "date"},
         "note": {"type": "string", "maxLength": 500}, "active": {"type": "boolean"}}}),
]


def document() -> dict[str, Any]:
    problem = {"description": "", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}
    paths: dict[str, Any] = {}
    for method, path, summary, params, body in ENDPOINTS:
        op: dict[str, Any] = {
            "summary": summary, "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {
                    "schema": {"type": "object"}}}},
                "401": {**problem, "description": "Not signed in"},
                "404": {**problem, "description": "Not found, or outside your scope"},
                "422": {**problem, "description": "Invalid input, with field-level errors"},
            },
            "security": [{"session": []}],
        }
        if body is not None:
            op["requestBody"] = {"required": False, "content": {
                "application/json": {"schema": body}}}
            op["parameters"] = params + [{"name": "X-CSRF-Token", "in": "header",
                                          "required": True, "schema": {"type": "string"}}]
            op["responses"]["403"] = {**problem, "description": "Missing or wrong CSRF token"}
        paths.setdefault("/api/v1" + path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "anju console API", "version": "1",
                 "description": "Sign in through /login; the session cookie authenticates."},
        "paths": paths,
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie",
                                            "name": "anju_session"}},
            "schemas": {"Problem": {"type": "object", "properties": {
                "status": {"type": "integer"}, "title": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "message": {"type": "string"}}}}}}},
        },
    }
