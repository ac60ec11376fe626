CREATE TABLE "command_deliveries" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "command_deliveries_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"command_id" bigint NOT NULL,
	"delivered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"via" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "expired_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "delivered_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "delivery_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "last_delivered_via" text;--> statement-breakpoint
ALTER TABLE "command_deliveries" ADD CONSTRAINT "command_deliveries_command_id_commands_id_fk" FOREIGN KEY ("command_id") REFERENCES "public"."commands"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "command_deliveries_command_idx" ON "command_deliveries" USING btree ("command_id","id");--> statement-breakpoint
CREATE INDEX "commands_pending_idx" ON "commands" USING btree ("endpoint_id","id") WHERE "commands"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "commands_version_pending_idx" ON "commands" USING btree ("application_version_id","id") WHERE "commands"."status" = 'PENDING';