ALTER TABLE "endpoints" ADD COLUMN "metadata" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "endpoints_metadata_idx" ON "endpoints" USING gin ("metadata" jsonb_path_ops);