/* ingest_job.c - see ingest_job.h. */
#include "ingest_job.h"

#include <stdlib.h>

void ingest_section_drop_base(struct ingest_section *in)
{
	free(in->base_value);
	in->base_value = NULL;
	free(in->base_refs);
	in->base_refs = NULL;
	free(in->new_value);
	in->new_value = NULL;
}

void ingest_job_free(struct ingest_job *job)
{
	for (int i = 0; i < SECTION_COUNT; i++) {
		struct ingest_section *in = &job->sec[i];

		changes_free(&in->changes);
		in->prepared = 0;
		free(in->text);
		in->text = NULL;
		free(in->packed);
		in->packed = NULL;
		free(in->digests);
		in->digests = NULL;
		ingest_section_drop_base(in);
		json_decref(in->body);
		in->body = NULL;
	}
}
