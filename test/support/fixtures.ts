// Data shared by tests: the command schema issue's example, a LoRaWAN light controller with dimming.
export const lightControllerSchema = {
  type: 'object',
  properties: {
    f_port: { type: 'number', const: 60 },
    priority: { type: 'string', enum: ['LOWEST', 'LOW', 'NORMAL', 'HIGH', 'HIGHEST'], default: 'LOW' },
    confirmed: { type: 'string', const: 'false' },
    command: { type: 'string', const: 'dimming' },
    output_mode: { type: 'string', enum: ['off', 'on', 'blinking'] },
    dimming: { type: 'number', minimum: 0, maximum: 100, description: 'Brightness in percent' },
    period_s: { type: 'number', minimum: 1, maximum: 255, title: 'Blink period (s)' },
  },
  required: ['f_port', 'priority', 'confirmed', 'command', 'output_mode', 'dimming'],
  if: { properties: { output_mode: { const: 'blinking' } }, required: ['output_mode'] },
  then: { required: ['period_s'] },
  additionalProperties: false,
};
