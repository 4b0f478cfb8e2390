import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

/** The body of `POST /messages`: a text for everybody, or for one uid. */
export class PushMessageDto {
  /** What the clients receive. */
  @IsString()
  @IsNotEmpty()
  @MaxLength(10_000)
  text!: string;

  /** Only the connections bound to this uid receive it (`GatewayService.bindUid`). */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  uid?: string;
}
