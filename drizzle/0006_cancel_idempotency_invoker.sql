ALTER TYPE "public"."command_status" ADD VALUE 'CANCELED';--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"api_key_id" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"command_id" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_api_key_id_key_pk" PRIMARY KEY("api_key_id","key")
);
--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "invoked_by_key_id" text;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "invoked_by_name" text;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "invoked_via" text;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "canceled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "canceled_by_key_id" text;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "canceled_by_name" text;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "canceled_via" text;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_command_id_commands_id_fk" FOREIGN KEY ("command_id") REFERENCES "public"."commands"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_canceled_has_time" CHECK ("commands"."status"::text <> 'CANCELED' OR "commands"."canceled_at" IS NOT NULL);