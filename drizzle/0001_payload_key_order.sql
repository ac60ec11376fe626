ALTER TABLE "commands" ALTER COLUMN "payload" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "commands" ALTER COLUMN "result_payload" SET DATA TYPE json;