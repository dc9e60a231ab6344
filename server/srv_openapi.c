/* srv_openapi.c — GET /openapi.json: the OpenAPI 3.0 description of the
 * HTTP API, a static string built into the binary. Keep it in step with
 * the route table in srv_routes.c and with docs/API.md. */
#include "srv.h"

#define J(...) #__VA_ARGS__

static const char openapi_json[] = J({
  "openapi": "3.0.3",
  "info": {"title": "scanlite", "version": "0.1.0",
           "description": "Image classification with history, feedback and statistics. Errors are {\"error\":{\"code\",\"message\"}}."},
  "components": {
    "securitySchemes": {
      "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
      "bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}}},
      "TopK": {"type": "object", "properties": {"label": {"type": "string"}, "p": {"type": "number"}}},
      "Prediction": {"type": "object", "properties": {
        "id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
        "model": {"type": "string"}, "model_sha256": {"type": "string"},
        "label": {"type": "string"}, "confidence": {"type": "number"},
        "top_k": {"type": "array", "items": {"$ref": "#/components/schemas/TopK"}},
        "subject": {"type": "string", "nullable": true}, "note": {"type": "string", "nullable": true},
        "user": {"type": "string"}, "input_sha256": {"type": "string"},
        "input_size": {"type": "integer"}, "content_type": {"type": "string"},
        "filename": {"type": "string", "nullable": true},
        "image": {"type": "object", "properties": {"width": {"type": "integer"}, "height": {"type": "integer"}}},
        "image_url": {"type": "string"},
        "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
        "feedback": {"type": "array", "items": {"$ref": "#/components/schemas/Feedback"}}}},
      "Feedback": {"type": "object", "properties": {
        "user": {"type": "string"}, "correct": {"type": "boolean"},
        "label": {"type": "string", "nullable": true}, "note": {"type": "string", "nullable": true},
        "created_at": {"type": "string"}, "updated_at": {"type": "string"}}},
      "Upload": {"type": "object", "properties": {
        "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "subject": {"type": "string"}, "note": {"type": "string"}, "top_k": {"type": "integer"}}}},
    "parameters": {
      "id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
      "name": {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
      "subject": {"name": "subject", "in": "query", "schema": {"type": "string"}},
      "note": {"name": "note", "in": "query", "schema": {"type": "string"}},
      "top_k": {"name": "top_k", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 16}},
      "skip": {"name": "skip", "in": "query", "schema": {"type": "integer", "minimum": 0}},
      "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
      "model": {"name": "model", "in": "query", "schema": {"type": "string"}},
      "label": {"name": "label", "in": "query", "schema": {"type": "string"}},
      "from": {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, inclusive"},
      "to": {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "YYYY-MM-DD (whole day) or YYYY-MM-DDTHH:MM:SSZ, inclusive"}},
    "requestBodies": {
      "Image": {"required": true, "content": {
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Upload"}}}}},
    "responses": {
      "Error": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Prediction": {"description": "a stored prediction (raw body) or {items:[...]} (multipart)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Prediction"}}}}}},
  "security": [{"apiKey": []}, {"bearer": []}],
  "paths": {
    "/health": {"get": {"summary": "liveness", "security": [], "responses": {"200": {"description": "alive"}}}},
    "/ready": {"get": {"summary": "every model passed its self-check", "security": [],
      "responses": {"200": {"description": "ready"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
      "responses": {"200": {"description": "text exposition format"}}}},
    "/openapi.json": {"get": {"summary": "this document", "responses": {"200": {"description": "OpenAPI 3"}}}},
    "/v1/auth/login": {"post": {"summary": "open a session", "security": [],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
        "required": ["username", "password"], "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}},
      "responses": {"200": {"description": "{token, token_type, expires_at, user}"},
        "401": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"}}}},
    "/v1/auth/logout": {"post": {"summary": "revoke the bearer token of this request",
      "responses": {"200": {"description": "{ok: true}"}}}},
    "/v1/models": {"get": {"summary": "list models (viewer)", "responses": {"200": {"description": "{models: [...], default}"}}}},
    "/v1/models/{name}": {"get": {"summary": "one model: labels, input shape, SHA-256, parameters (viewer)",
      "parameters": [{"$ref": "#/components/parameters/name"}],
      "responses": {"200": {"description": "model"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/v1/models/{name}/predict": {"post": {"summary": "classify one image or a multipart batch (clinician)",
      "parameters": [{"$ref": "#/components/parameters/name"}, {"$ref": "#/components/parameters/subject"},
        {"$ref": "#/components/parameters/note"}, {"$ref": "#/components/parameters/top_k"}],
      "requestBody": {"$ref": "#/components/requestBodies/Image"},
      "responses": {"200": {"$ref": "#/components/responses/Prediction"},
        "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
        "413": {"$ref": "#/components/responses/Error"}, "415": {"$ref": "#/components/responses/Error"},
        "422": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/predict": {"post": {"summary": "predict with the default (first) model (clinician)",
      "parameters": [{"$ref": "#/components/parameters/subject"}, {"$ref": "#/components/parameters/note"},
        {"$ref": "#/components/parameters/top_k"}],
      "requestBody": {"$ref": "#/components/requestBodies/Image"},
      "responses": {"200": {"$ref": "#/components/responses/Prediction"}}}},
    "/v1/predictions": {"get": {"summary": "history, newest first (viewer)",
      "parameters": [{"$ref": "#/components/parameters/skip"}, {"$ref": "#/components/parameters/limit"},
        {"$ref": "#/components/parameters/model"}, {"$ref": "#/components/parameters/label"},
        {"$ref": "#/components/parameters/subject"}, {"$ref": "#/components/parameters/from"},
        {"$ref": "#/components/parameters/to"}],
      "responses": {"200": {"description": "{items: [Prediction], total, skip, limit}"}}}},
    "/v1/predictions.csv": {"get": {"summary": "history as CSV, same filters (viewer)",
      "parameters": [{"$ref": "#/components/parameters/model"}, {"$ref": "#/components/parameters/label"},
        {"$ref": "#/components/parameters/subject"}, {"$ref": "#/components/parameters/from"},
        {"$ref": "#/components/parameters/to"}],
      "responses": {"200": {"description": "text/csv"}}}},
    "/v1/predictions/{id}": {
      "get": {"summary": "one prediction with its feedback (viewer)", "parameters": [{"$ref": "#/components/parameters/id"}],
        "responses": {"200": {"$ref": "#/components/responses/Prediction"}, "404": {"$ref": "#/components/responses/Error"}}},
      "delete": {"summary": "delete a prediction, its feedback and its image (admin)",
        "parameters": [{"$ref": "#/components/parameters/id"}],
        "responses": {"204": {"description": "deleted"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/v1/predictions/{id}/image": {"get": {"summary": "the stored upload, original bytes (viewer)",
      "parameters": [{"$ref": "#/components/parameters/id"}],
      "responses": {"200": {"description": "the image with its original content type"}}}},
    "/v1/predictions/{id}/feedback": {"post": {"summary": "record or update this user's feedback (clinician)",
      "parameters": [{"$ref": "#/components/parameters/id"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
        "required": ["correct"], "properties": {"correct": {"type": "boolean"}, "label": {"type": "string"}, "note": {"type": "string"}}}}}},
      "responses": {"201": {"description": "created"}, "200": {"description": "updated"},
        "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
        "422": {"$ref": "#/components/responses/Error"}}}},
    "/v1/stats": {"get": {"summary": "totals, per model, per label, per day (30), feedback agreement (viewer)",
      "responses": {"200": {"description": "statistics"}}}}}
});

void srv_h_openapi(srv_req *r)
{
    srv_reply_text(r, 200, "application/json", openapi_json);
}
