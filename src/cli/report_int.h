/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report_int.h - how `imgstream classify` prints its results: a plain table or
 * one JSON object per line on stdout, error lines and progress on stderr;
 * with --accuracy, a closing top-1 accuracy and confusion matrix.
 *
 * Threading: a cli_report belongs to the main thread.
 */
#ifndef IMS_CLI_REPORT_INT_H
#define IMS_CLI_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "imgstream/imgstream.h"

/* The outcome for one image. */
typedef struct cli_result {
  const char *path;          /* input: the path as given; BORROWED */
  const char *error;         /* input: NULL on success, else the message */
  const ims_prediction *top; /* input: best first; index = label index */
  size_t k;                  /* input: entries in top */
  const float *features;     /* input: --features: the image's features
                                (JSON "features"), or NULL; BORROWED */
  size_t feature_count;      /* input: floats at features */
} cli_result;

/* One classified image, kept for --accuracy. */
typedef struct cli_scored {
  char *truth;      /* owned: the name of the image's parent folder */
  const char *pred; /* BORROWED from the labels: the top-1 description */
} cli_scored;

/* Output settings and progress state. Zero-initialize, fill the inputs. */
typedef struct cli_report {
  const ims_labels *labels; /* input: BORROWED; names of the indexes */
  const ims_head *head;     /* input: BORROWED; with --head, the names
                               instead (class and description are both a
                               head class's label), or NULL */
  bool json;                /* input: JSON lines instead of the table */
  size_t top_k;             /* input: predictions per image */
  int path_width;           /* input: width of the table's path column */
  bool progress;            /* input: show "classified N/M" on stderr */
  size_t total;             /* input: images in the run */
  size_t done;              /* private: images reported so far */
  bool progress_shown;      /* private: a progress line is on screen */
  bool accuracy;            /* input: keep top-1 against the folder names */
  cli_scored *scored;       /* private, owned: the images kept */
  size_t nscored, capscored;/* private: entries and room in scored */
  size_t failed;            /* private: images that failed (--accuracy) */
} cli_report;

/* Decide whether progress may be shown: stderr is a terminal and $CI is
 * unset. */
bool cli_report_want_progress(void);

/* Print the table header (plain mode only). */
void cli_report_begin(cli_report *r);

/* Print one result: predictions to stdout; in plain mode an error goes to
 * stderr as "imgstream: PATH: MESSAGE", in JSON mode to stdout as
 * {"path":..,"error":..}. Returns 0, or -1 if out of memory. */
int cli_report_result(cli_report *r, const cli_result *res);

/* Update the progress line after a batch. */
void cli_report_progress(cli_report *r);

/* With --accuracy: print the top-1 accuracy and the confusion matrix of
 * the images reported so far (a table, or one {"accuracy":{..}} line in
 * JSON mode). An image's true label is the name of its parent folder; it
 * was right when its top-1 description equals that name. Failed images
 * count neither way. With a head, the matrix is over the folder names
 * and the head's classes. Returns 0, or -1 if out of memory. */
int cli_report_accuracy(cli_report *r);

/* Clear the progress line, if any; free what --accuracy kept. */
void cli_report_end(cli_report *r);

#endif /* IMS_CLI_REPORT_INT_H */
