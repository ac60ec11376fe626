CREATE TABLE "command_batches" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"command_type" text NOT NULL,
	"payload" json,
	"target" jsonb NOT NULL,
	"created_by_key_id" text NOT NULL,
	"created_by_name" text NOT NULL,
	"created_via" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"total" integer NOT NULL,
	"skipped" jsonb DEFAULT '[]'::jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "batch_id" uuid;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "batch_id" uuid;--> statement-breakpoint
CREATE INDEX "command_batches_created_idx" ON "command_batches" USING btree ("created_at","id");--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_batch_id_command_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."command_batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_batch_id_command_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."command_batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "commands_batch_idx" ON "commands" USING btree ("batch_id","id") WHERE "commands"."batch_id" IS NOT NULL;