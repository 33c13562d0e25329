/* SPDX-License-Identifier: Apache-2.0 */
/*
 * results.c - rows that arrive as JSON (the jsonl: sink's format, which
 * stream workers publish to a JetStream results stream) counted into a
 * registry, so `imgstream results --follow --http` serves the fleet's
 * rows on the same page and /metrics as a stream does.
 *
 * Threading: any thread.
 */
#include <jansson.h>
#include <string.h>

#include "core/clock_int.h"
#include "http/registry_int.h"

static const char *str(json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

static int64_t when(json_t *o, const char *key) {
  int64_t ms = 0;
  const char *s = str(o, key);
  return s != NULL && ims__parse_iso8601_ms(s, &ms) == 0 ? ms : 0;
}

bool ims_metrics_record_result(ims_metrics *m, const char *json,
                               size_t len) {
  json_t *o = json_loadb(json, len, 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    return false;
  }
  json_t *pred = json_object_get(o, "prediction");
  json_t *learned = json_object_get(o, "learned");
  ims_stream_row r = {
      .batch = json_integer_value(json_object_get(o, "batch")),
      .path = str(o, "path"),
      .label = str(o, "label"),
      .class_id = str(pred, "class"),
      .desc = str(pred, "desc"),
      .score = (float)json_number_value(json_object_get(pred, "score")),
      .error = str(o, "error"),
      .event_time_ms = when(o, "event_time"),
      .processing_time_ms = when(o, "processing_time"),
      .learned_label = str(learned, "label"),
      .learned_score =
          (float)json_number_value(json_object_get(learned, "score")),
  };
  if (r.error == NULL && r.class_id == NULL) r.error = "no prediction";
  ims_metrics_record_rows(m, &r, 1);
  json_decref(o);
  return true;
}
