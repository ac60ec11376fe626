CREATE TABLE "endpoint_sessions" (
	"instance_id" uuid NOT NULL,
	"endpoint_id" uuid NOT NULL,
	"since" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "endpoint_sessions_instance_id_endpoint_id_pk" PRIMARY KEY("instance_id","endpoint_id")
);
--> statement-breakpoint
CREATE TABLE "server_instances" (
	"id" uuid PRIMARY KEY NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "commands_endpoint_id_idx";--> statement-breakpoint
DROP INDEX "telemetry_endpoint_time_idx";--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "application_version_id" uuid;--> statement-breakpoint
UPDATE "commands" SET "application_version_id" = "endpoints"."application_version_id" FROM "endpoints" WHERE "endpoints"."id" = "commands"."endpoint_id";--> statement-breakpoint
ALTER TABLE "commands" ALTER COLUMN "application_version_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "endpoints" ADD COLUMN "last_seen_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "endpoint_sessions" ADD CONSTRAINT "endpoint_sessions_instance_id_server_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."server_instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "endpoint_sessions" ADD CONSTRAINT "endpoint_sessions_endpoint_id_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "endpoint_sessions_endpoint_idx" ON "endpoint_sessions" USING btree ("endpoint_id");--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_application_version_id_application_versions_id_fk" FOREIGN KEY ("application_version_id") REFERENCES "public"."application_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "commands_application_version_id_idx" ON "commands" USING btree ("application_version_id","id");--> statement-breakpoint
CREATE INDEX "endpoints_name_idx" ON "endpoints" USING btree ("name","id");--> statement-breakpoint
CREATE INDEX "commands_endpoint_id_idx" ON "commands" USING btree ("endpoint_id","id");--> statement-breakpoint
CREATE INDEX "telemetry_endpoint_time_idx" ON "telemetry_samples" USING btree ("endpoint_id","timestamp","id");