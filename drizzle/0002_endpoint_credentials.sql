ALTER TABLE "endpoints" ADD COLUMN "mqtt_username" text;--> statement-breakpoint
ALTER TABLE "endpoints" ADD COLUMN "mqtt_password_hash" text;--> statement-breakpoint
ALTER TABLE "endpoints" ADD CONSTRAINT "endpoints_mqtt_username_unique" UNIQUE("mqtt_username");